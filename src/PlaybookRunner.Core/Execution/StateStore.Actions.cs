using System.Data.Common;
using System.Globalization;
using PlaybookRunner.Core.Evaluation;

namespace PlaybookRunner.Core.Execution;

/// <summary>A firing to record: the rule, the customer, the instant, and its actions as they will be executed.</summary>
internal sealed record Firing(string Playbook, string Rule, string Key, DateTimeOffset FiredAt, IReadOnlyList<(string IdempotencyKey, int Index, string Type, string Lane, string Payload)> Actions)
{
    /// <summary><c>fired</c>, or <c>resolved</c> for a resolution (<c>on_resolve:</c>), which starts no cooldown and is not the rule's last firing.</summary>
    public string Kind { get; init; } = "fired";
}

/// <summary>How an attempt ended, recorded in the same transaction as the next write about its action.</summary>
internal readonly record struct EndedAttempt(int Attempt, string Outcome, string Message);

/// <summary>Firings, actions and their attempts: recording, claiming, outcomes, retries, requeue and history.</summary>
internal abstract partial class StateStore
{
    /// <summary>Records a firing and its actions as pending, in one transaction, before anything is executed. Recording the same firing twice changes nothing.</summary>
    public void RecordFiring(string playbook, string rule, string key, DateTimeOffset firedAt, IReadOnlyList<(string IdempotencyKey, int Index, string Type, string Lane, string Payload)> actions, DateTimeOffset now) =>
        RecordFirings([new Firing(playbook, rule, key, firedAt, actions)], now);

    /// <summary>How many firings <see cref="RecordFirings"/> writes in one transaction.</summary>
    public const int FiringsPerTransaction = 500;

    /// <summary>
    /// Records firings and their actions as pending before anything is executed, a batch of up to 500 firings per
    /// transaction (one disk sync per batch, not per customer); each firing is in its batch whole. Recording the same
    /// firing twice changes nothing.
    /// </summary>
    public void RecordFirings(IReadOnlyList<Firing> firings, DateTimeOffset now)
    {
        var connection = Writable();
        foreach (var batch in firings.Chunk(FiringsPerTransaction))
        {
            using var transaction = connection.BeginTransaction();
            // One command per statement and batch, its parameters bound again for each row: a statement prepared once,
            // not once per firing and action (a tick of millions of firings spent most of its recording preparing them).
            using var insertFiring = Command("INSERT INTO firings (playbook, rule, key, fired_at, kind) VALUES (@p, @r, @k, @at, @kind) ON CONFLICT DO NOTHING", transaction);
            using var insertAction = Command(
                """
                INSERT INTO actions (idempotency_key, playbook, rule, key, action_index, fired_at, type, lane, payload, state, attempts, updated_at, kind)
                VALUES (@id, @p, @r, @k, @i, @at, @t, @lane, @payload, 'pending', 0, @now, @kind) ON CONFLICT DO NOTHING
                """,
                transaction);
            var stamp = DateFormats.FormatStored(now);
            foreach (var firing in batch)
            {
                var firedAt = DateFormats.FormatStored(firing.FiredAt);
                Bind(insertFiring, "@kind", firing.Kind);
                Bind(insertFiring, "@p", firing.Playbook);
                Bind(insertFiring, "@r", firing.Rule);
                Bind(insertFiring, "@k", firing.Key);
                Bind(insertFiring, "@at", firedAt);
                insertFiring.ExecuteNonQuery();

                foreach (var action in firing.Actions)
                {
                    Bind(insertAction, "@id", action.IdempotencyKey);
                    Bind(insertAction, "@p", firing.Playbook);
                    Bind(insertAction, "@r", firing.Rule);
                    Bind(insertAction, "@k", firing.Key);
                    Bind(insertAction, "@i", action.Index);
                    Bind(insertAction, "@at", firedAt);
                    Bind(insertAction, "@t", action.Type);
                    Bind(insertAction, "@lane", action.Lane);
                    Bind(insertAction, "@payload", action.Payload);
                    Bind(insertAction, "@now", stamp);
                    Bind(insertAction, "@kind", firing.Kind);
                    insertAction.ExecuteNonQuery();
                }
            }

            transaction.Commit();
            foreach (var firing in batch.Where(f => f.Kind == "fired"))
            {
                _lastFired[(Shared(firing.Playbook), Shared(firing.Rule), firing.Key)] = firing.FiredAt;
            }
        }
    }

    /// <summary>
    /// Claims one pending action for <paramref name="owner"/>: the one named, or else the oldest. Only an
    /// unclaimed action or one whose lease ran out is taken, unless <paramref name="steal"/>; never one waiting
    /// for its retry time. Null when none.
    /// </summary>
    public ActionRecord? Claim(string owner, string? idempotencyKey = null, bool steal = false)
    {
        var filter = (idempotencyKey is null ? "" : " AND idempotency_key = @id")
            + (steal ? "" : $" AND (lease_until IS NULL OR lease_until < {NowSql})")
            + Due;
        using var command = Command(
            $"""
            UPDATE actions SET lease_owner = @owner, lease_until = {LeaseUntilSql}, fence = fence + 1
            WHERE idempotency_key IN (
                SELECT idempotency_key FROM actions WHERE state = 'pending'{filter}
                ORDER BY fired_at, playbook, rule, key, action_index LIMIT 1{SkipLockedSql})
            RETURNING {ActionColumns}
            """);
        Writable();
        Add(command, "@owner", owner);
        Add(command, "@due_now", DateFormats.FormatStored(Time.GetUtcNow()));
        if (idempotencyKey is not null)
        {
            Add(command, "@id", idempotencyKey);
        }

        BindClock(command);
        return Read(command).SingleOrDefault();
    }

    /// <summary>
    /// The pending actions that are due (not waiting for a retry time), oldest first, with their lanes. With
    /// <paramref name="claimable"/> only those no runner holds a live claim on, outside <paramref name="exceptLanes"/>, at most
    /// <paramref name="limit"/>: what the daemon's next batches take.
    /// </summary>
    public IReadOnlyList<(string Key, string Lane)> DueKeys(bool claimable = false, IReadOnlyCollection<string>? exceptLanes = null, int? limit = null)
    {
        var lanes = exceptLanes?.ToList() ?? [];
        var keys = new List<(string, string)>();
        using var command = Command(
            $"SELECT idempotency_key, COALESCE(lane, type) FROM actions WHERE state = 'pending'{Due}"
            + (claimable ? $" AND (lease_until IS NULL OR lease_until < {NowSql})" : "")
            + (lanes.Count == 0 ? "" : $" AND COALESCE(lane, type) NOT IN ({string.Join(", ", lanes.Select((_, i) => $"@lane{i.ToString(CultureInfo.InvariantCulture)}"))})")
            + " ORDER BY fired_at, playbook, rule, key, action_index"
            + (limit is { } most ? $" LIMIT {most.ToString(CultureInfo.InvariantCulture)}" : ""));
        Writable();
        Add(command, "@due_now", DateFormats.FormatStored(Time.GetUtcNow()));
        for (var i = 0; i < lanes.Count; i++)
        {
            Add(command, $"@lane{i.ToString(CultureInfo.InvariantCulture)}", lanes[i]);
        }

        if (claimable)
        {
            BindClock(command);
        }

        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            keys.Add((reader.GetString(0), reader.GetString(1)));
        }

        return keys;
    }

    /// <summary>
    /// Claims the named actions that are claimable (as <see cref="Claim"/> with a key: unclaimed or with their lease run
    /// out unless <paramref name="steal"/>, and due) and starts an attempt at each, all in one transaction: one disk sync for a batch, before any of their
    /// side effects. An action another runner holds or finished is left out. The claims in the order of
    /// <paramref name="keys"/>, each with its attempt's number.
    /// </summary>
    public IReadOnlyList<(ActionRecord Claim, int Attempt)> ClaimAndStart(string owner, IReadOnlyList<string> keys, DateTimeOffset at, bool steal = false)
    {
        var started = new List<(ActionRecord, int)>(keys.Count);
        using var transaction = Writable().BeginTransaction();
        using var claim = Command(
            $"""
            UPDATE actions SET lease_owner = @owner, lease_until = {LeaseUntilSql}, fence = fence + 1
            WHERE idempotency_key = @id AND state = 'pending'{(steal ? "" : $" AND (lease_until IS NULL OR lease_until < {NowSql})")}{Due}
            RETURNING {ActionColumns}
            """,
            transaction);
        Add(claim, "@owner", owner);
        Add(claim, "@due_now", DateFormats.FormatStored(Time.GetUtcNow()));
        Add(claim, "@id", "");
        BindClock(claim);
        using var attempt = Command(StartAttemptSql, transaction);
        Add(attempt, "@id", "");
        Add(attempt, "@at", DateFormats.FormatStored(at));
        foreach (var key in keys)
        {
            claim.Parameters["@id"].Value = key;
            if (Read(claim).SingleOrDefault() is not { } record)
            {
                continue;
            }

            attempt.Parameters["@id"].Value = key;
            started.Add((record, Convert.ToInt32(attempt.ExecuteScalar(), CultureInfo.InvariantCulture)));
        }

        transaction.Commit();
        return started;
    }

    /// <summary>
    /// Records how a batch of attempts ended, in one transaction: each attempt's row, and for an action that is finished
    /// (<c>Finished</c> set: succeeded or a dead letter) its state under its claim. For each, false when
    /// its claim was lost (the action's row unchanged).
    /// </summary>
    public IReadOnlyList<bool> RecordBatch(IReadOnlyList<(ActionRecord Claim, EndedAttempt Ended, ActionState? Finished, string? Error)> outcomes, DateTimeOffset now)
    {
        var recorded = new List<bool>(outcomes.Count);
        using var transaction = Writable().BeginTransaction();
        using var end = Command("UPDATE attempts SET outcome = @o, message = @m WHERE idempotency_key = @id AND attempt = @n", transaction);
        Add(end, "@id", "");
        Add(end, "@n", 0);
        Add(end, "@o", "");
        Add(end, "@m", "");
        using var finish = Command(
            """
            UPDATE actions SET state = @s, attempts = attempts + 1, last_error = @e, updated_at = @at, lease_owner = NULL, lease_until = NULL
            WHERE idempotency_key = @id AND fence = @fence
            """,
            transaction);
        Add(finish, "@s", "");
        Add(finish, "@e", null);
        Add(finish, "@at", DateFormats.FormatStored(now));
        Add(finish, "@id", "");
        Add(finish, "@fence", 0L);
        foreach (var (claim, ended, finished, error) in outcomes)
        {
            end.Parameters["@id"].Value = claim.IdempotencyKey;
            end.Parameters["@n"].Value = ended.Attempt;
            end.Parameters["@o"].Value = ended.Outcome;
            end.Parameters["@m"].Value = ended.Message;
            end.ExecuteNonQuery();
            if (finished is not { } state)
            {
                recorded.Add(true);
                continue;
            }

            finish.Parameters["@s"].Value = StateName(state);
            finish.Parameters["@e"].Value = (object?)error ?? DBNull.Value;
            finish.Parameters["@id"].Value = claim.IdempotencyKey;
            finish.Parameters["@fence"].Value = claim.Fence;
            recorded.Add(finish.ExecuteNonQuery() == 1);
        }

        transaction.Commit();
        return recorded;
    }

    /// <summary>
    /// Gives back claims of a batch whose attempts were started but not made (the run was stopped first), in one
    /// transaction: each attempt row is removed, since nothing was sent, and the action is left pending for whoever
    /// claims it next. A claim that was lost is left alone.
    /// </summary>
    public void ReleaseUnsent(IReadOnlyList<(ActionRecord Claim, int Attempt)> unsent)
    {
        using var transaction = Writable().BeginTransaction();
        foreach (var (claim, attempt) in unsent)
        {
            using var release = Command("UPDATE actions SET lease_owner = NULL, lease_until = NULL WHERE idempotency_key = @id AND fence = @fence AND state = 'pending'", transaction);
            Add(release, "@id", claim.IdempotencyKey);
            Add(release, "@fence", claim.Fence);
            if (release.ExecuteNonQuery() == 1)
            {
                using var remove = Command("DELETE FROM attempts WHERE idempotency_key = @id AND attempt = @n AND outcome = 'started'", transaction);
                Add(remove, "@id", claim.IdempotencyKey);
                Add(remove, "@n", attempt);
                remove.ExecuteNonQuery();
            }
        }

        transaction.Commit();
    }

    /// <summary>
    /// Extends the leases of a batch's claims whose attempts are not made yet, in one transaction (a batch that takes
    /// longer than a third of the lease); for each, false when the claim was lost.
    /// </summary>
    public IReadOnlyList<bool> RenewAll(IReadOnlyList<ActionRecord> claims)
    {
        var renewed = new List<bool>(claims.Count);
        using var transaction = Writable().BeginTransaction();
        using var command = Command($"UPDATE actions SET lease_until = {LeaseUntilSql} WHERE idempotency_key = @id AND fence = @fence AND state = 'pending'", transaction);
        Add(command, "@id", "");
        Add(command, "@fence", 0L);
        BindClock(command);
        foreach (var claim in claims)
        {
            command.Parameters["@id"].Value = claim.IdempotencyKey;
            command.Parameters["@fence"].Value = claim.Fence;
            renewed.Add(command.ExecuteNonQuery() == 1);
        }

        transaction.Commit();
        return renewed;
    }

    /// <summary>
    /// Extends the lease of a claim; false when the claim was lost (another runner claimed the action,
    /// which changed its fencing token, or it is finished). A lease that ran out with nobody taking
    /// over is still this runner's: the token did not change.
    /// </summary>
    public bool Renew(ActionRecord claim)
    {
        using var command = Command($"UPDATE actions SET lease_until = {LeaseUntilSql} WHERE idempotency_key = @id AND fence = @fence AND state = 'pending'");
        Writable();
        Add(command, "@id", claim.IdempotencyKey);
        Add(command, "@fence", claim.Fence);
        BindClock(command);
        return command.ExecuteNonQuery() == 1;
    }

    /// <summary>Gives a claim up, leaving the action pending for whoever claims it next.</summary>
    public void Release(ActionRecord claim)
    {
        using var command = Command("UPDATE actions SET lease_owner = NULL, lease_until = NULL WHERE idempotency_key = @id AND fence = @fence AND state = 'pending'");
        Writable();
        Add(command, "@id", claim.IdempotencyKey);
        Add(command, "@fence", claim.Fence);
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// Records how an action ended, under its claim, with how its last attempt ended (<paramref name="ended"/>), in one
    /// transaction; false (the action's row unchanged) when the claim was lost.
    /// </summary>
    public bool RecordOutcome(ActionRecord claim, ActionState state, string? error, DateTimeOffset now, int attempts, EndedAttempt? ended = null)
    {
        using var transaction = Writable().BeginTransaction();
        End(claim.IdempotencyKey, ended, transaction);
        using var command = Command(
            """
            UPDATE actions SET state = @s, attempts = attempts + @n, last_error = @e, updated_at = @at, lease_owner = NULL, lease_until = NULL
            WHERE idempotency_key = @id AND fence = @fence
            """,
            transaction);
        Add(command, "@n", attempts);
        Add(command, "@s", StateName(state));
        Add(command, "@e", error);
        Add(command, "@at", DateFormats.FormatStored(now));
        Add(command, "@id", claim.IdempotencyKey);
        Add(command, "@fence", claim.Fence);
        var recorded = command.ExecuteNonQuery() == 1;
        transaction.Commit();
        return recorded;
    }

    /// <summary>
    /// Starts an attempt under a claim, before its side effect, in one transaction: renews the lease under the claim's
    /// fencing token and adds the attempt row (<c>started</c>; one a crash interrupts stays so). The attempt's number,
    /// or null when the claim was lost.
    /// </summary>
    public int? StartAttempt(ActionRecord claim, DateTimeOffset at)
    {
        using var transaction = Writable().BeginTransaction();
        using (var renew = Command($"UPDATE actions SET lease_until = {LeaseUntilSql} WHERE idempotency_key = @id AND fence = @fence AND state = 'pending'", transaction))
        {
            Add(renew, "@id", claim.IdempotencyKey);
            Add(renew, "@fence", claim.Fence);
            BindClock(renew);
            if (renew.ExecuteNonQuery() != 1)
            {
                transaction.Commit();
                return null;
            }
        }

        using var insert = Command(StartAttemptSql, transaction);
        Add(insert, "@id", claim.IdempotencyKey);
        Add(insert, "@at", DateFormats.FormatStored(at));
        var attempt = Convert.ToInt32(insert.ExecuteScalar(), CultureInfo.InvariantCulture);
        transaction.Commit();
        return attempt;
    }

    /// <summary>Adds an attempt row <c>started</c> for <c>@id</c> at <c>@at</c>, numbered after the action's earlier ones; returns its number.</summary>
    private const string StartAttemptSql =
        """
        INSERT INTO attempts (idempotency_key, attempt, at, outcome, message)
        VALUES (@id, (SELECT COUNT(*) + 1 FROM attempts WHERE idempotency_key = @id), @at, 'started', '')
        RETURNING attempt
        """;

    private void End(string idempotencyKey, EndedAttempt? ended, DbTransaction transaction)
    {
        if (ended is not { } end)
        {
            return;
        }

        using var command = Command("UPDATE attempts SET outcome = @o, message = @m WHERE idempotency_key = @id AND attempt = @n", transaction);
        Add(command, "@id", idempotencyKey);
        Add(command, "@n", end.Attempt);
        Add(command, "@o", end.Outcome);
        Add(command, "@m", end.Message);
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// Puts dead letters back to pending with their original idempotency keys, so that the next run or
    /// daemon delivers them; each gets an attempt row "requeued". A dead letter whose rule has fired for
    /// the customer again since is left alone (superseded): requeuing it would deliver twice.
    /// </summary>
    public (IReadOnlyList<ActionRecord> Requeued, IReadOnlyList<(ActionRecord Action, DateTimeOffset Since)> Superseded) Requeue(string? rule, string? key, DateTimeOffset now)
    {
        var connection = Writable();
        var requeued = new List<ActionRecord>();
        var superseded = new List<(ActionRecord, DateTimeOffset)>();
        var candidates = History(rule, key, failedOnly: true, int.MaxValue).OrderBy(a => a.FiredAt).ThenBy(a => a.IdempotencyKey, StringComparer.Ordinal).ToList();
        using var transaction = connection.BeginTransaction();
        foreach (var dead in candidates)
        {
            using (var later = Command("SELECT MAX(fired_at) FROM firings WHERE playbook = @p AND rule = @r AND key = @k AND fired_at > @at", transaction))
            {
                Add(later, "@p", dead.Playbook);
                Add(later, "@r", dead.Rule);
                Add(later, "@k", dead.Key);
                Add(later, "@at", DateFormats.FormatStored(dead.FiredAt));
                if (later.ExecuteScalar() is string since)
                {
                    superseded.Add((dead, ParseInstant(since)));
                    continue;
                }
            }

            using (var update = Command("UPDATE actions SET state = 'pending', updated_at = @now, lease_owner = NULL, lease_until = NULL, failing_since = NULL, retry_at = NULL WHERE idempotency_key = @id AND state = 'dead'", transaction))
            {
                Add(update, "@now", DateFormats.FormatStored(now));
                Add(update, "@id", dead.IdempotencyKey);
                if (update.ExecuteNonQuery() != 1)
                {
                    continue;
                }
            }

            using (var row = Command(
                """
                INSERT INTO attempts (idempotency_key, attempt, at, outcome, message)
                VALUES (@id, (SELECT COUNT(*) + 1 FROM attempts WHERE idempotency_key = @id), @at, 'requeued', 'requeued by playbook requeue')
                """,
                transaction))
            {
                Add(row, "@id", dead.IdempotencyKey);
                Add(row, "@at", DateFormats.FormatStored(now));
                row.ExecuteNonQuery();
            }

            requeued.Add(dead);
        }

        transaction.Commit();
        return (requeued, superseded);
    }

    /// <summary>Records how an attempt ended: succeeded, transient or permanent, with the message.</summary>
    public void EndAttempt(string idempotencyKey, int attempt, string outcome, string message)
    {
        using var command = Command("UPDATE attempts SET outcome = @o, message = @m WHERE idempotency_key = @id AND attempt = @n");
        Writable();
        Add(command, "@id", idempotencyKey);
        Add(command, "@n", attempt);
        Add(command, "@o", outcome);
        Add(command, "@m", message);
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// Leaves an action that failed transiently pending until <paramref name="retryAt"/>, its claim released, under its
    /// claim; false (nothing written) when the claim was lost.
    /// </summary>
    public bool RecordRetry(ActionRecord claim, DateTimeOffset failingSince, DateTimeOffset retryAt, string error, DateTimeOffset now, int attempts, EndedAttempt? ended = null)
    {
        using var transaction = Writable().BeginTransaction();
        End(claim.IdempotencyKey, ended, transaction);
        using var command = Command(
            """
            UPDATE actions SET attempts = attempts + @n, last_error = @e, updated_at = @at, failing_since = @since, retry_at = @retry, lease_owner = NULL, lease_until = NULL
            WHERE idempotency_key = @id AND fence = @fence AND state = 'pending'
            """,
            transaction);
        Add(command, "@n", attempts);
        Add(command, "@e", error);
        Add(command, "@at", DateFormats.FormatStored(now));
        Add(command, "@since", DateFormats.FormatStored(failingSince));
        Add(command, "@retry", DateFormats.FormatStored(retryAt));
        Add(command, "@id", claim.IdempotencyKey);
        Add(command, "@fence", claim.Fence);
        var recorded = command.ExecuteNonQuery() == 1;
        transaction.Commit();
        return recorded;
    }

    /// <summary>Pending actions waiting for their retry time after a transient failure: how many, and the earliest retry.</summary>
    public (int Count, DateTimeOffset? Next) Waiting()
    {
        if (Connection is null)
        {
            return (0, null);
        }

        using var command = Command("SELECT COUNT(*), MIN(retry_at) FROM actions WHERE state = 'pending' AND retry_at > @now");
        Add(command, "@now", DateFormats.FormatStored(Time.GetUtcNow()));
        using var reader = command.ExecuteReader();
        reader.Read();
        return (Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture), reader.IsDBNull(1) ? null : ParseInstant(reader.GetString(1)));
    }

    /// <summary>Pending actions and the oldest one's firing time, for backlog health.</summary>
    public (long Pending, DateTimeOffset? OldestFiredAt) Backlog()
    {
        if (Connection is null)
        {
            return (0, null);
        }

        using var command = Command("SELECT COUNT(*), MIN(fired_at) FROM actions WHERE state = 'pending'");
        using var reader = command.ExecuteReader();
        reader.Read();
        return (Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture), reader.IsDBNull(1) ? null : ParseInstant(reader.GetString(1)));
    }

    /// <summary>Every attempt at one action, in order.</summary>
    public IReadOnlyList<(int Attempt, DateTimeOffset At, string Outcome, string Message)> Attempts(string idempotencyKey)
    {
        var result = new List<(int, DateTimeOffset, string, string)>();
        if (Connection is null)
        {
            return result;
        }

        using var command = Command("SELECT attempt, at, outcome, message FROM attempts WHERE idempotency_key = @id ORDER BY attempt");
        Add(command, "@id", idempotencyKey);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            result.Add((Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture), ParseInstant(reader.GetString(1)), reader.GetString(2), reader.GetString(3)));
        }

        return result;
    }

    /// <summary>How many actions are in each state.</summary>
    public IReadOnlyDictionary<string, long> CountByState()
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal) { ["pending"] = 0, ["succeeded"] = 0, ["dead"] = 0 };
        if (Connection is null)
        {
            return result;
        }

        using var command = Command("SELECT state, COUNT(*) FROM actions GROUP BY state");
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            result[reader.GetString(0)] = Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture);
        }

        return result;
    }

    /// <summary>Actions recorded but not finished (a crashed or interrupted run), oldest first.</summary>
    public IReadOnlyList<ActionRecord> Pending() => Query("WHERE state = 'pending' ORDER BY fired_at, playbook, rule, key, action_index", []);

    /// <summary>Recorded actions, newest first, filtered for <c>playbook history</c>.</summary>
    public IReadOnlyList<ActionRecord> History(string? rule, string? key, bool failedOnly, int limit)
    {
        var where = new List<string>();
        var parameters = new List<(string, object)>();
        if (rule is not null)
        {
            where.Add(rule.Contains('/', StringComparison.Ordinal) ? "playbook || '/' || rule = @rule" : "rule = @rule");
            parameters.Add(("@rule", rule));
        }

        if (key is not null)
        {
            where.Add("key = @key");
            parameters.Add(("@key", key));
        }

        if (failedOnly)
        {
            where.Add("state = 'dead'");
        }

        var clause = (where.Count == 0 ? "" : "WHERE " + string.Join(" AND ", where))
            + $" ORDER BY fired_at DESC, updated_at DESC, playbook, rule, key, action_index LIMIT {limit.ToString(CultureInfo.InvariantCulture)}";
        return Query(clause, parameters);
    }

    private List<ActionRecord> Query(string clause, IReadOnlyList<(string Name, object Value)> parameters)
    {
        if (Connection is null)
        {
            return [];
        }

        using var command = Command($"SELECT {ActionColumns} FROM actions " + clause);
        foreach (var (name, value) in parameters)
        {
            Add(command, name, value);
        }

        return Read(command);
    }

    private static List<ActionRecord> Read(DbCommand command)
    {
        var result = new List<ActionRecord>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            result.Add(new ActionRecord(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), Convert.ToInt32(reader.GetValue(4), CultureInfo.InvariantCulture),
                ParseInstant(reader.GetString(5)), reader.GetString(6), reader.GetString(7),
                reader.GetString(8) switch { "succeeded" => ActionState.Succeeded, "dead" => ActionState.Dead, _ => ActionState.Pending },
                Convert.ToInt32(reader.GetValue(9), CultureInfo.InvariantCulture), reader.IsDBNull(10) ? null : reader.GetString(10), ParseInstant(reader.GetString(11)))
            {
                Fence = Convert.ToInt64(reader.GetValue(12), CultureInfo.InvariantCulture),
                FailingSince = reader.IsDBNull(13) ? null : ParseInstant(reader.GetString(13)),
                RetryAt = reader.IsDBNull(14) ? null : ParseInstant(reader.GetString(14)),
                Lane = reader.GetString(15),
            });
        }

        return result;
    }
}
