using System.Data.Common;
using System.Globalization;
using PlaybookRunner.Core.Evaluation;

namespace PlaybookRunner.Core.Execution;

/// <summary>The state of one recorded action.</summary>
internal enum ActionState
{
    Pending,
    Succeeded,
    Dead,
}

/// <summary>One action as recorded in the store; <see cref="Fence"/> is the claim that may execute it.</summary>
internal sealed record ActionRecord(
    string IdempotencyKey,
    string Playbook,
    string Rule,
    string Key,
    int ActionIndex,
    DateTimeOffset FiredAt,
    string Type,
    string Payload,
    ActionState State,
    int Attempts,
    string? LastError,
    DateTimeOffset UpdatedAt)
{
    /// <summary>The fencing token of the claim this record was read under (0: not claimed).</summary>
    public long Fence { get; init; }

    /// <summary>When its first transient failure happened, while it is retried across runs (null: not failing).</summary>
    public DateTimeOffset? FailingSince { get; init; }

    /// <summary>The earliest instant it may be attempted again after a transient failure (null: now).</summary>
    public DateTimeOffset? RetryAt { get; init; }

    /// <summary>The delivery lane it is executed in: its channel (or webhook host, or type); concurrency is bounded per lane.</summary>
    public string Lane { get; init; } = Type;
}

/// <summary>A scheduled tick another daemon claimed but did not finish before its lease ran out.</summary>
internal sealed record StaleTick(string Playbook, string Schedule, DateTimeOffset DueAt);

/// <summary>
/// The state store (spec section 7): every firing, every action with its idempotency key and every
/// attempt, plus the claims that let several daemons share one store. SQLite by default (a file beside
/// runner.yaml); PostgreSQL for several daemons. Both run the same SQL; a dialect supplies the clock
/// (the database's own clock for PostgreSQL, so that leases do not depend on the daemons' clocks).
/// </summary>
/// <remarks>
/// Claims: an action is executed only by the runner holding its lease, identified by a fencing token
/// that grows with every claim. The holder re-checks its token and lease before every attempt and
/// records the outcome only under its token, so a runner that was paused past its lease can neither
/// execute nor overwrite what the new holder did. Ticks (one evaluation of one schedule) are claimed
/// the same way, so that each is evaluated by one daemon.
/// </remarks>
internal abstract class StateStore : IFiringHistory, IDisposable
{
    /// <summary>Migrations in order; the schema version is the number applied. Never edit one that shipped.</summary>
    protected static readonly string[] Migrations =
    [
        """
        CREATE TABLE firings (
            playbook TEXT NOT NULL,
            rule TEXT NOT NULL,
            key TEXT NOT NULL,
            fired_at TEXT NOT NULL,
            PRIMARY KEY (playbook, rule, key, fired_at)
        );
        CREATE TABLE actions (
            idempotency_key TEXT PRIMARY KEY,
            playbook TEXT NOT NULL,
            rule TEXT NOT NULL,
            key TEXT NOT NULL,
            action_index INTEGER NOT NULL,
            fired_at TEXT NOT NULL,
            type TEXT NOT NULL,
            payload TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX actions_state ON actions (state);
        """,
        """
        CREATE TABLE attempts (
            idempotency_key TEXT NOT NULL REFERENCES actions (idempotency_key),
            attempt INTEGER NOT NULL,
            at TEXT NOT NULL,
            outcome TEXT NOT NULL,
            message TEXT NOT NULL,
            PRIMARY KEY (idempotency_key, attempt)
        );
        """,
        """
        ALTER TABLE actions ADD COLUMN lease_owner TEXT;
        ALTER TABLE actions ADD COLUMN lease_until TEXT;
        ALTER TABLE actions ADD COLUMN fence BIGINT NOT NULL DEFAULT 0;
        CREATE TABLE ticks (
            playbook TEXT NOT NULL,
            schedule TEXT NOT NULL,
            due_at TEXT NOT NULL,
            state TEXT NOT NULL,
            owner TEXT NOT NULL,
            lease_until TEXT NOT NULL,
            fence BIGINT NOT NULL,
            finished_at TEXT,
            PRIMARY KEY (playbook, schedule, due_at)
        );
        """,
        """
        CREATE INDEX actions_firing ON actions (playbook, rule, key, fired_at);
        """,
        """
        CREATE TABLE executors (
            owner TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            since TEXT NOT NULL,
            lease_until TEXT NOT NULL
        );
        """,
        """
        ALTER TABLE actions ADD COLUMN failing_since TEXT;
        ALTER TABLE actions ADD COLUMN retry_at TEXT;
        ALTER TABLE actions ADD COLUMN lane TEXT;
        CREATE TABLE meta (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    ];

    private const string ActionColumns = "idempotency_key, playbook, rule, key, action_index, fired_at, type, payload, state, attempts, last_error, updated_at, fence, failing_since, retry_at, COALESCE(lane, type)";

    /// <summary>An action is claimable once its retry time (after a transient failure) has come.</summary>
    private const string Due = " AND (retry_at IS NULL OR retry_at <= @due_now)";

    private readonly Dictionary<(string, string, string), DateTimeOffset> _lastFired = [];
    private readonly Dictionary<(string, string, string), (DateTimeOffset FiredAt, string Error)> _deadLetters = [];

    protected StateStore(DbConnection? connection, TimeProvider time, TimeSpan lease)
    {
        Connection = connection;
        Time = time;
        Lease = lease;
        if (connection is not null)
        {
            // A firing counts for cooldowns unless every one of its actions is a dead letter: nothing of it
            // was delivered, so the customer must not be held back as if it had been (docs/execution.md).
            using (var command = Command(
                """
                SELECT f.playbook, f.rule, f.key, MAX(f.fired_at) FROM firings f
                WHERE NOT EXISTS (SELECT 1 FROM actions a WHERE a.playbook = f.playbook AND a.rule = f.rule AND a.key = f.key AND a.fired_at = f.fired_at)
                   OR EXISTS (SELECT 1 FROM actions a WHERE a.playbook = f.playbook AND a.rule = f.rule AND a.key = f.key AND a.fired_at = f.fired_at AND a.state <> 'dead')
                GROUP BY f.playbook, f.rule, f.key
                """))
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    _lastFired[(reader.GetString(0), reader.GetString(1), reader.GetString(2))] = ParseInstant(reader.GetString(3));
                }
            }

            using (var command = Command("SELECT playbook, rule, key, fired_at, COALESCE(last_error, '') FROM actions WHERE state = 'dead' ORDER BY fired_at, action_index"))
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    _deadLetters[(reader.GetString(0), reader.GetString(1), reader.GetString(2))] = (ParseInstant(reader.GetString(3)), reader.GetString(4));
                }
            }
        }
    }

    /// <summary>The store as a user names it: the SQLite file, or the PostgreSQL database.</summary>
    public abstract string Name { get; }

    /// <summary>The current schema version.</summary>
    public static int SchemaVersion => Migrations.Length;

    /// <summary>How long a claim lasts unless renewed.</summary>
    public TimeSpan Lease { get; }

    protected DbConnection? Connection { get; }

    protected TimeProvider Time { get; }

    /// <summary>SQL for the store's current instant (as text in the stored format).</summary>
    protected abstract string NowSql { get; }

    /// <summary>SQL for the instant a lease taken now ends.</summary>
    protected abstract string LeaseUntilSql { get; }

    /// <summary>Appended to the row-picking sub-query of a claim.</summary>
    protected virtual string SkipLockedSql => "";

    /// <summary>Binds the parameters <see cref="NowSql"/> and <see cref="LeaseUntilSql"/> use.</summary>
    protected abstract void BindClock(DbCommand command);

    /// <summary>Opens the SQLite store at <paramref name="path"/> for reading; a missing file reads as empty and is not created.</summary>
    public static StateStore OpenReadOnly(string path) => SqliteStateStore.OpenReadOnly(path, TimeProvider.System);

    /// <summary>Opens (creating and migrating as needed) the SQLite store at <paramref name="path"/>.</summary>
    public static StateStore OpenForWrite(string path) => SqliteStateStore.OpenForWrite(path, TimeProvider.System, TimeSpan.FromSeconds(60));

    /// <inheritdoc />
    public DateTimeOffset? LastFired(string playbook, string rule, string key) =>
        _lastFired.TryGetValue((playbook, rule, key), out var at) ? at : null;

    /// <inheritdoc />
    public (DateTimeOffset FiredAt, string Error)? LastDeadLetter(string playbook, string rule, string key) =>
        _deadLetters.TryGetValue((playbook, rule, key), out var dead) && (LastFired(playbook, rule, key) is not { } last || dead.FiredAt > last) ? dead : null;

    /// <summary>Records a firing and its actions as pending, in one transaction, before anything is executed. Recording the same firing twice changes nothing.</summary>
    public void RecordFiring(string playbook, string rule, string key, DateTimeOffset firedAt, IReadOnlyList<(string IdempotencyKey, int Index, string Type, string Lane, string Payload)> actions, DateTimeOffset now)
    {
        var connection = Writable();
        using var transaction = connection.BeginTransaction();
        using (var command = Command("INSERT INTO firings (playbook, rule, key, fired_at) VALUES (@p, @r, @k, @at) ON CONFLICT DO NOTHING", transaction))
        {
            Add(command, "@p", playbook);
            Add(command, "@r", rule);
            Add(command, "@k", key);
            Add(command, "@at", FormatInstant(firedAt));
            command.ExecuteNonQuery();
        }

        foreach (var action in actions)
        {
            using var command = Command(
                """
                INSERT INTO actions (idempotency_key, playbook, rule, key, action_index, fired_at, type, lane, payload, state, attempts, updated_at)
                VALUES (@id, @p, @r, @k, @i, @at, @t, @lane, @payload, 'pending', 0, @now) ON CONFLICT DO NOTHING
                """,
                transaction);
            Add(command, "@id", action.IdempotencyKey);
            Add(command, "@p", playbook);
            Add(command, "@r", rule);
            Add(command, "@k", key);
            Add(command, "@i", action.Index);
            Add(command, "@at", FormatInstant(firedAt));
            Add(command, "@t", action.Type);
            Add(command, "@lane", action.Lane);
            Add(command, "@payload", action.Payload);
            Add(command, "@now", FormatInstant(now));
            command.ExecuteNonQuery();
        }

        transaction.Commit();
        _lastFired[(playbook, rule, key)] = firedAt;
    }

    /// <summary>
    /// Claims one pending action for <paramref name="owner"/>: the one named, or else the oldest. Only an
    /// unclaimed action or one whose lease ran out is taken, unless <paramref name="steal"/>; never one waiting
    /// for its retry time, nor one in a lane of <paramref name="fullLanes"/> (the runner is at its concurrency
    /// there). Null when none.
    /// </summary>
    public ActionRecord? Claim(string owner, string? idempotencyKey = null, bool steal = false, IReadOnlyCollection<string>? fullLanes = null)
    {
        var lanes = fullLanes?.ToList() ?? [];
        var filter = (idempotencyKey is null ? "" : " AND idempotency_key = @id")
            + (steal ? "" : $" AND (lease_until IS NULL OR lease_until < {NowSql})")
            + Due
            + (lanes.Count == 0 ? "" : $" AND COALESCE(lane, type) NOT IN ({string.Join(", ", lanes.Select((_, i) => $"@lane{i.ToString(CultureInfo.InvariantCulture)}"))})");
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
        Add(command, "@due_now", FormatInstant(Time.GetUtcNow()));
        if (idempotencyKey is not null)
        {
            Add(command, "@id", idempotencyKey);
        }

        for (var i = 0; i < lanes.Count; i++)
        {
            Add(command, $"@lane{i.ToString(CultureInfo.InvariantCulture)}", lanes[i]);
        }

        BindClock(command);
        return Read(command).SingleOrDefault();
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

    /// <summary>Records how an action ended, under its claim; false (nothing written) when the claim was lost.</summary>
    public bool RecordOutcome(ActionRecord claim, ActionState state, string? error, DateTimeOffset now, int attempts)
    {
        using var command = Command(
            """
            UPDATE actions SET state = @s, attempts = attempts + @n, last_error = @e, updated_at = @at, lease_owner = NULL, lease_until = NULL
            WHERE idempotency_key = @id AND fence = @fence
            """);
        Writable();
        Add(command, "@n", attempts);
        Add(command, "@s", StateName(state));
        Add(command, "@e", error);
        Add(command, "@at", FormatInstant(now));
        Add(command, "@id", claim.IdempotencyKey);
        Add(command, "@fence", claim.Fence);
        return command.ExecuteNonQuery() == 1;
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
                Add(later, "@at", FormatInstant(dead.FiredAt));
                if (later.ExecuteScalar() is string since)
                {
                    superseded.Add((dead, ParseInstant(since)));
                    continue;
                }
            }

            using (var update = Command("UPDATE actions SET state = 'pending', updated_at = @now, lease_owner = NULL, lease_until = NULL, failing_since = NULL, retry_at = NULL WHERE idempotency_key = @id AND state = 'dead'", transaction))
            {
                Add(update, "@now", FormatInstant(now));
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
                Add(row, "@at", FormatInstant(now));
                row.ExecuteNonQuery();
            }

            requeued.Add(dead);
        }

        transaction.Commit();
        return (requeued, superseded);
    }

    /// <summary>
    /// Records that an attempt at an action starts, before its side effect: every delivery attempt is in the
    /// attempts table, and one a crash interrupted stays <c>started</c>. Returns the attempt's number.
    /// </summary>
    public int BeginAttempt(string idempotencyKey, DateTimeOffset at)
    {
        using var command = Command(
            """
            INSERT INTO attempts (idempotency_key, attempt, at, outcome, message)
            VALUES (@id, (SELECT COUNT(*) + 1 FROM attempts WHERE idempotency_key = @id), @at, 'started', '')
            RETURNING attempt
            """);
        Writable();
        Add(command, "@id", idempotencyKey);
        Add(command, "@at", FormatInstant(at));
        return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
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
    public bool RecordRetry(ActionRecord claim, DateTimeOffset failingSince, DateTimeOffset retryAt, string error, DateTimeOffset now, int attempts)
    {
        using var command = Command(
            """
            UPDATE actions SET attempts = attempts + @n, last_error = @e, updated_at = @at, failing_since = @since, retry_at = @retry, lease_owner = NULL, lease_until = NULL
            WHERE idempotency_key = @id AND fence = @fence AND state = 'pending'
            """);
        Writable();
        Add(command, "@n", attempts);
        Add(command, "@e", error);
        Add(command, "@at", FormatInstant(now));
        Add(command, "@since", FormatInstant(failingSince));
        Add(command, "@retry", FormatInstant(retryAt));
        Add(command, "@id", claim.IdempotencyKey);
        Add(command, "@fence", claim.Fence);
        return command.ExecuteNonQuery() == 1;
    }

    /// <summary>Pending actions waiting for their retry time after a transient failure: how many, and the earliest retry.</summary>
    public (int Count, DateTimeOffset? Next) Waiting()
    {
        if (Connection is null)
        {
            return (0, null);
        }

        using var command = Command("SELECT COUNT(*), MIN(retry_at) FROM actions WHERE state = 'pending' AND retry_at > @now");
        Add(command, "@now", FormatInstant(Time.GetUtcNow()));
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
        at.Value = FormatInstant(now);
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
        Add(command, "@at", FormatInstant(now));
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

    protected DbConnection Writable() => Connection ?? throw new InvalidOperationException("The state store was opened read-only");

    protected DbCommand Command(string sql, DbTransaction? transaction = null)
    {
        var command = (Connection ?? throw new InvalidOperationException("The state store is empty")).CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    protected static void Add(DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }

    private static void AddTick(DbCommand command, string playbook, string schedule, DateTimeOffset dueAt)
    {
        Add(command, "@p", playbook);
        Add(command, "@s", schedule);
        Add(command, "@due", FormatInstant(dueAt));
    }

    /// <summary>Applies the migrations not yet applied, in one transaction; refuses a store newer than this version.</summary>
    protected static void Migrate(DbConnection connection, string where)
    {
        using (var create = connection.CreateCommand())
        {
            create.CommandText = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)";
            create.ExecuteNonQuery();
        }

        using var transaction = connection.BeginTransaction();
        using var read = connection.CreateCommand();
        read.Transaction = transaction;
        read.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
        var version = Convert.ToInt32(read.ExecuteScalar(), CultureInfo.InvariantCulture);
        if (version > Migrations.Length)
        {
            throw new InvalidOperationException($"The state store {where} has schema version {version}, newer than this PlaybookRunner understands ({Migrations.Length}); upgrade PlaybookRunner");
        }

        for (var v = version; v < Migrations.Length; v++)
        {
            using var migrate = connection.CreateCommand();
            migrate.Transaction = transaction;
            migrate.CommandText = Migrations[v] + $"; INSERT INTO schema_version (version) VALUES ({(v + 1).ToString(CultureInfo.InvariantCulture)})";
            migrate.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    public static string StateName(ActionState state) => state switch
    {
        ActionState.Succeeded => "succeeded",
        ActionState.Dead => "dead",
        _ => "pending",
    };

    public static string FormatInstant(DateTimeOffset instant) => instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    protected static DateTimeOffset ParseInstant(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    public void Dispose() => Connection?.Dispose();
}
