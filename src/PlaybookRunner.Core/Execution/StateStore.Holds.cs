using PlaybookRunner.Core.Evaluation;

namespace PlaybookRunner.Core.Execution;

/// <summary>One customer's hold of a followed rule's condition: since when, the latest evaluation that saw it, and the rule's latest firing in it.</summary>
internal readonly record struct Hold(DateTimeOffset Since, DateTimeOffset Seen, DateTimeOffset? FiredAt);

/// <summary>A condition that held for a customer at an evaluation being recorded.</summary>
internal readonly record struct HeldCondition(string Playbook, string Rule, string Key, DateTimeOffset Since, bool Fired);

/// <summary>
/// The holds of the rules the store follows (<c>for:</c>, <c>on_resolve:</c>): per rule and customer, since when its
/// condition has held at every evaluation. A hold not seen by the latest evaluation of its rule has ended.
/// </summary>
internal abstract partial class StateStore
{
    /// <inheritdoc />
    public int FiredBetween(string playbook, string rule, DateTimeOffset since, DateTimeOffset until) =>
        Count("SELECT COUNT(*) FROM firings WHERE playbook = @p AND rule = @r AND kind = 'fired' AND fired_at >= @since AND fired_at < @until",
            ("@p", playbook), ("@r", rule), ("@since", DateFormats.FormatStored(since)), ("@until", DateFormats.FormatStored(until)));

    /// <inheritdoc />
    public int RecordedBetween(string lane, DateTimeOffset since, DateTimeOffset until) =>
        Count("SELECT COUNT(*) FROM actions WHERE lane = @lane AND fired_at >= @since AND fired_at < @until",
            ("@lane", lane), ("@since", DateFormats.FormatStored(since)), ("@until", DateFormats.FormatStored(until)));

    private int Count(string sql, params (string Name, object Value)[] parameters)
    {
        if (Connection is null)
        {
            return 0; // no store yet: nothing ran
        }

        using var command = Command(sql);
        foreach (var (name, value) in parameters)
        {
            Add(command, name, value);
        }

        return Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private void LoadHolds()
    {
        using (var command = Command("SELECT playbook, rule, key, since, seen, fired_at FROM holds"))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                _holds[(Shared(reader.GetString(0)), Shared(reader.GetString(1)), reader.GetString(2))] =
                    new Hold(ParseInstant(reader.GetString(3)), ParseInstant(reader.GetString(4)), reader.IsDBNull(5) ? null : ParseInstant(reader.GetString(5)));
            }
        }

        using (var command = Command("SELECT playbook, rule, at FROM evaluations"))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                _evaluated[(Shared(reader.GetString(0)), Shared(reader.GetString(1)))] = ParseInstant(reader.GetString(2));
            }
        }
    }

    /// <summary>
    /// Records the evaluation at <paramref name="at"/> of followed rules: each condition that held (its hold goes on, or
    /// starts), and, for each rule of <paramref name="evaluated"/> (evaluated for every customer), the evaluation itself:
    /// the holds of that rule it did not see have ended and are deleted. 500 holds per transaction; the evaluation
    /// marks are written with the last batch.
    /// </summary>
    public void RecordHolds(DateTimeOffset at, IReadOnlyList<HeldCondition> held, IReadOnlyList<(string Playbook, string Rule)> evaluated)
    {
        var connection = Writable();
        var stamp = DateFormats.FormatStored(at);
        var batches = held.Chunk(500).ToList();
        if (batches.Count == 0)
        {
            batches.Add([]);
        }

        for (var b = 0; b < batches.Count; b++)
        {
            using var transaction = connection.BeginTransaction();
            foreach (var hold in batches[b])
            {
                using var command = Command(
                    """
                    INSERT INTO holds (playbook, rule, key, since, seen, fired_at) VALUES (@p, @r, @k, @since, @at, @fired)
                    ON CONFLICT (playbook, rule, key) DO UPDATE SET
                        fired_at = CASE WHEN holds.since = excluded.since THEN COALESCE(excluded.fired_at, holds.fired_at) ELSE excluded.fired_at END,
                        since = excluded.since,
                        seen = excluded.seen
                    """,
                    transaction);
                Add(command, "@p", hold.Playbook);
                Add(command, "@r", hold.Rule);
                Add(command, "@k", hold.Key);
                Add(command, "@since", DateFormats.FormatStored(hold.Since));
                Add(command, "@at", stamp);
                Add(command, "@fired", hold.Fired ? stamp : null);
                command.ExecuteNonQuery();
            }

            if (b == batches.Count - 1)
            {
                foreach (var (playbook, rule) in evaluated)
                {
                    using (var mark = Command(
                        """
                        INSERT INTO evaluations (playbook, rule, at) VALUES (@p, @r, @at)
                        ON CONFLICT (playbook, rule) DO UPDATE SET at = CASE WHEN excluded.at > evaluations.at THEN excluded.at ELSE evaluations.at END
                        """,
                        transaction))
                    {
                        Add(mark, "@p", playbook);
                        Add(mark, "@r", rule);
                        Add(mark, "@at", stamp);
                        mark.ExecuteNonQuery();
                    }

                    using var ended = Command("DELETE FROM holds WHERE playbook = @p AND rule = @r AND seen < @at", transaction);
                    Add(ended, "@p", playbook);
                    Add(ended, "@r", rule);
                    Add(ended, "@at", stamp);
                    ended.ExecuteNonQuery();
                }
            }

            transaction.Commit();
            foreach (var hold in batches[b])
            {
                var firedAt = hold.Fired ? at : _holds.TryGetValue((hold.Playbook, hold.Rule, hold.Key), out var before) && before.Since == hold.Since ? before.FiredAt : null;
                _holds[(Shared(hold.Playbook), Shared(hold.Rule), hold.Key)] = new Hold(hold.Since, at, firedAt);
            }
        }

        foreach (var (playbook, rule) in evaluated)
        {
            _evaluated[(playbook, rule)] = _evaluated.TryGetValue((playbook, rule), out var latest) && latest > at ? latest : at;
            foreach (var ended in _holds.Where(h => h.Key.Item1 == playbook && h.Key.Item2 == rule && h.Value.Seen < at).Select(h => h.Key).ToList())
            {
                _holds.Remove(ended);
            }
        }
    }
}
