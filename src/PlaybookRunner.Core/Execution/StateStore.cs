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
internal abstract partial class StateStore : IFiringHistory, IDisposable
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
        """
        CREATE TABLE holds (
            playbook TEXT NOT NULL,
            rule TEXT NOT NULL,
            key TEXT NOT NULL,
            since TEXT NOT NULL,
            seen TEXT NOT NULL,
            fired_at TEXT,
            PRIMARY KEY (playbook, rule, key)
        );
        CREATE TABLE evaluations (
            playbook TEXT NOT NULL,
            rule TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (playbook, rule)
        );
        ALTER TABLE firings ADD COLUMN kind TEXT NOT NULL DEFAULT 'fired';
        ALTER TABLE actions ADD COLUMN kind TEXT NOT NULL DEFAULT 'fired';
        """,
    ];

    private const string ActionColumns = "idempotency_key, playbook, rule, key, action_index, fired_at, type, payload, state, attempts, last_error, updated_at, fence, failing_since, retry_at, COALESCE(lane, type)";

    /// <summary>An action is claimable once its retry time (after a transient failure) has come.</summary>
    private const string Due = " AND (retry_at IS NULL OR retry_at <= @due_now)";

    private readonly Dictionary<(string, string, string), DateTimeOffset> _lastFired = [];
    private readonly Dictionary<(string, string, string), (DateTimeOffset FiredAt, string Error)> _deadLetters = [];
    private readonly Dictionary<(string, string, string), DateTimeOffset> _lastDelivered = [];
    private readonly Dictionary<(string, string, string), Hold> _holds = [];
    private readonly Dictionary<(string, string), DateTimeOffset> _evaluated = [];

    /// <summary>Playbook and rule names, one string each: the history above has an entry per customer that fired, and names them all.</summary>
    private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);

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
                WHERE f.kind = 'fired'
                  AND (NOT EXISTS (SELECT 1 FROM actions a WHERE a.playbook = f.playbook AND a.rule = f.rule AND a.key = f.key AND a.fired_at = f.fired_at)
                    OR EXISTS (SELECT 1 FROM actions a WHERE a.playbook = f.playbook AND a.rule = f.rule AND a.key = f.key AND a.fired_at = f.fired_at AND a.state <> 'dead'))
                GROUP BY f.playbook, f.rule, f.key
                """))
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    _lastFired[(Shared(reader.GetString(0)), Shared(reader.GetString(1)), reader.GetString(2))] = ParseInstant(reader.GetString(3));
                }
            }

            using (var command = Command("SELECT playbook, rule, key, MAX(updated_at) FROM actions WHERE state = 'succeeded' AND kind = 'fired' GROUP BY playbook, rule, key"))
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    _lastDelivered[(Shared(reader.GetString(0)), Shared(reader.GetString(1)), reader.GetString(2))] = ParseInstant(reader.GetString(3));
                }
            }

            using (var command = Command("SELECT playbook, rule, key, fired_at, COALESCE(last_error, '') FROM actions WHERE state = 'dead' AND kind = 'fired' ORDER BY fired_at, action_index"))
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    _deadLetters[(Shared(reader.GetString(0)), Shared(reader.GetString(1)), reader.GetString(2))] = (ParseInstant(reader.GetString(3)), reader.GetString(4));
                }
            }

            LoadHolds();
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

    /// <summary>The one string of a playbook or rule name the history holds (<paramref name="name"/> itself, the first time).</summary>
    protected string Shared(string name)
    {
        if (!_names.TryGetValue(name, out var shared))
        {
            _names[name] = shared = name;
        }

        return shared;
    }

    /// <inheritdoc />
    public DateTimeOffset? LastFired(string playbook, string rule, string key) =>
        _lastFired.TryGetValue((playbook, rule, key), out var at) ? at : null;

    /// <inheritdoc />
    public DateTimeOffset? LastDelivered(string playbook, string rule, string key) =>
        _lastDelivered.TryGetValue((playbook, rule, key), out var at) ? at : null;

    /// <inheritdoc />
    public (DateTimeOffset Since, DateTimeOffset? FiredAt)? Holding(string playbook, string rule, string key) =>
        _holds.TryGetValue((playbook, rule, key), out var hold) && hold.Seen >= _evaluated.GetValueOrDefault((playbook, rule), DateTimeOffset.MinValue)
            ? (hold.Since, hold.FiredAt)
            : null;

    /// <inheritdoc />
    public (DateTimeOffset FiredAt, string Error)? LastDeadLetter(string playbook, string rule, string key) =>
        _deadLetters.TryGetValue((playbook, rule, key), out var dead) && (LastFired(playbook, rule, key) is not { } last || dead.FiredAt > last) ? dead : null;

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

    /// <summary>Sets a parameter of a command executed once per row: added the first time, its value replaced after.</summary>
    protected static void Bind(DbCommand command, string name, object? value)
    {
        if (command.Parameters.Contains(name))
        {
            command.Parameters[name].Value = value ?? DBNull.Value;
        }
        else
        {
            Add(command, name, value);
        }
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

    protected static DateTimeOffset ParseInstant(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    public void Dispose() => Connection?.Dispose();
}
