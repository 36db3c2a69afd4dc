using System.Data.Common;
using System.Globalization;
using PlaybookRunner.Core.Evaluation;

namespace PlaybookRunner.Core.Execution;

/// <summary>The store's identity and its runners: executors (one run per store), scheduled ticks and their claims.</summary>
internal abstract partial class StateStore
{
    /// <summary>
    /// The store's identity, given when it was created (or first migrated to schema 6): a store that is replaced
    /// under a running daemon has another one. Null when the store has none (read-only, not created).
    /// </summary>
    public string? Identity()
    {
        if (Connection is null)
        {
            return null;
        }

        using var command = Command("SELECT value FROM meta WHERE name = 'store_id'");
        return command.ExecuteScalar() as string;
    }

    /// <summary>True when anything ever fired in this store (an emptied store has no firings).</summary>
    public bool HasFirings()
    {
        if (Connection is null)
        {
            return false;
        }

        using var command = Command("SELECT 1 FROM firings LIMIT 1");
        return command.ExecuteScalar() is not null;
    }

    /// <summary>Gives a newly created (or newly migrated) store its identity; one that has an identity keeps it.</summary>
    protected static void EnsureIdentity(DbConnection connection, DateTimeOffset now)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO meta (name, value) VALUES ('store_id', @id), ('created_at', @at) ON CONFLICT DO NOTHING";
        var id = command.CreateParameter();
        id.ParameterName = "@id";
        id.Value = Guid.NewGuid().ToString("N");
        command.Parameters.Add(id);
        var at = command.CreateParameter();
        at.ParameterName = "@at";
        at.Value = DateFormats.FormatStored(now);
        command.Parameters.Add(at);
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// Registers (or renews) <paramref name="owner"/> as a runner executing against this store: a <c>run</c> or a
    /// daemon, under the store's lease. A runner that stops without leaving is forgotten when its lease runs out.
    /// </summary>
    public void Heartbeat(string owner, string kind)
    {
        Writable();
        using var command = Command(
            $"""
            INSERT INTO executors (owner, kind, since, lease_until) VALUES (@owner, @kind, {NowSql}, {LeaseUntilSql})
            ON CONFLICT (owner) DO UPDATE SET lease_until = {LeaseUntilSql}
            """);
        Add(command, "@owner", owner);
        Add(command, "@kind", kind);
        BindClock(command);
        command.ExecuteNonQuery();
    }

    /// <summary>Removes <paramref name="owner"/> from the runners executing against this store.</summary>
    public void Leave(string owner)
    {
        Writable();
        using var command = Command("DELETE FROM executors WHERE owner = @owner");
        Add(command, "@owner", owner);
        command.ExecuteNonQuery();
    }

    /// <summary>The other runners executing against this store now (live leases), oldest first.</summary>
    public IReadOnlyList<(string Owner, string Kind, DateTimeOffset Since)> OtherExecutors(string owner)
    {
        using var command = Command($"SELECT owner, kind, since FROM executors WHERE owner <> @owner AND lease_until >= {NowSql} ORDER BY since, owner");
        Add(command, "@owner", owner);
        BindClock(command);
        using var reader = command.ExecuteReader();
        var result = new List<(string, string, DateTimeOffset)>();
        while (reader.Read())
        {
            result.Add((reader.GetString(0), reader.GetString(1), ParseInstant(reader.GetString(2))));
        }

        return result;
    }

    /// <summary>Claims a scheduled tick; its fencing token, or null when another daemon has it (running under a live lease, or done).</summary>
    public long? ClaimTick(string playbook, string schedule, DateTimeOffset dueAt, string owner)
    {
        Writable();
        // Not while an earlier tick of the same schedule is still being evaluated by a live daemon: the two
        // would not see each other's firings, and every customer would be fired for twice (cooldowns count
        // from recorded firings). The later tick is skipped, as one claimed elsewhere is.
        using (var insert = Command(
            $"""
            INSERT INTO ticks (playbook, schedule, due_at, state, owner, lease_until, fence)
            SELECT @p, @s, @due, 'running', @owner, {LeaseUntilSql}, 1
            WHERE NOT EXISTS (SELECT 1 FROM ticks WHERE playbook = @p AND schedule = @s AND due_at < @due AND state = 'running' AND lease_until >= {NowSql})
            ON CONFLICT DO NOTHING
            """))
        {
            AddTick(insert, playbook, schedule, dueAt);
            Add(insert, "@owner", owner);
            BindClock(insert);
            if (insert.ExecuteNonQuery() == 1)
            {
                return 1;
            }
        }

        using var takeOver = Command(
            $"""
            UPDATE ticks SET owner = @owner, lease_until = {LeaseUntilSql}, fence = fence + 1
            WHERE playbook = @p AND schedule = @s AND due_at = @due AND state = 'running' AND (lease_until < {NowSql} OR owner = @owner)
            RETURNING fence
            """);
        AddTick(takeOver, playbook, schedule, dueAt);
        Add(takeOver, "@owner", owner);
        BindClock(takeOver);
        return takeOver.ExecuteScalar() is { } fence and not DBNull ? Convert.ToInt64(fence, CultureInfo.InvariantCulture) : null;
    }

    /// <summary>Extends the lease of a tick being evaluated; false when the claim was lost to another daemon meanwhile.</summary>
    public bool RenewTick(string playbook, string schedule, DateTimeOffset dueAt, long fence)
    {
        Writable();
        using var command = Command($"UPDATE ticks SET lease_until = {LeaseUntilSql} WHERE playbook = @p AND schedule = @s AND due_at = @due AND fence = @fence AND state = 'running'");
        AddTick(command, playbook, schedule, dueAt);
        Add(command, "@fence", fence);
        BindClock(command);
        return command.ExecuteNonQuery() == 1;
    }

    /// <summary>Marks a tick evaluated; false when the claim was lost to another daemon meanwhile.</summary>
    public bool FinishTick(string playbook, string schedule, DateTimeOffset dueAt, long fence, DateTimeOffset now)
    {
        using var command = Command("UPDATE ticks SET state = 'done', finished_at = @at, lease_until = @at WHERE playbook = @p AND schedule = @s AND due_at = @due AND fence = @fence");
        Writable();
        AddTick(command, playbook, schedule, dueAt);
        Add(command, "@fence", fence);
        Add(command, "@at", DateFormats.FormatStored(now));
        return command.ExecuteNonQuery() == 1;
    }

    /// <summary>The latest tick of a schedule any daemon claimed, or null when it never ran.</summary>
    public DateTimeOffset? LastTick(string playbook, string schedule)
    {
        if (Connection is null)
        {
            return null;
        }

        using var command = Command("SELECT MAX(due_at) FROM ticks WHERE playbook = @p AND schedule = @s");
        Add(command, "@p", playbook);
        Add(command, "@s", schedule);
        return command.ExecuteScalar() is string text ? ParseInstant(text) : null;
    }

    /// <summary>Ticks still running whose lease ran out: their daemon died or hangs.</summary>
    public IReadOnlyList<StaleTick> StaleTicks()
    {
        var result = new List<StaleTick>();
        if (Connection is null)
        {
            return result;
        }

        using var command = Command($"SELECT playbook, schedule, due_at FROM ticks WHERE state = 'running' AND lease_until < {NowSql} ORDER BY due_at");
        BindClock(command);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            result.Add(new StaleTick(reader.GetString(0), reader.GetString(1), ParseInstant(reader.GetString(2))));
        }

        return result;
    }

    private static void AddTick(DbCommand command, string playbook, string schedule, DateTimeOffset dueAt)
    {
        Add(command, "@p", playbook);
        Add(command, "@s", schedule);
        Add(command, "@due", DateFormats.FormatStored(dueAt));
    }
}
