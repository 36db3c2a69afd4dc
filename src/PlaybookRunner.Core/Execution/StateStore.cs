using System.Globalization;
using Microsoft.Data.Sqlite;
using PlaybookRunner.Core.Evaluation;

namespace PlaybookRunner.Core.Execution;

/// <summary>The state of one recorded action.</summary>
internal enum ActionState
{
    Pending,
    Succeeded,
    Dead,
}

/// <summary>One action as recorded in the store.</summary>
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
    DateTimeOffset UpdatedAt);

/// <summary>
/// The state store (spec section 7): every firing and every action attempt with its idempotency key.
/// SQLite by default: a file beside runner.yaml in WAL mode with synchronous=FULL, schema versioned by
/// migrations. <c>plan</c> opens it read-only (and never creates it); <c>run</c> writes it.
/// </summary>
internal sealed class StateStore : IFiringHistory, IDisposable
{
    /// <summary>Migrations in order; the schema version is the number applied. Never edit one that shipped.</summary>
    private static readonly string[] Migrations =
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
    ];

    private readonly SqliteConnection? _connection;
    private readonly Dictionary<(string, string, string), DateTimeOffset> _lastFired = [];

    private StateStore(SqliteConnection? connection)
    {
        _connection = connection;
        if (connection is not null)
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT playbook, rule, key, MAX(fired_at) FROM firings GROUP BY playbook, rule, key";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                _lastFired[(reader.GetString(0), reader.GetString(1), reader.GetString(2))] = ParseInstant(reader.GetString(3));
            }
        }
    }

    /// <summary>The current schema version.</summary>
    public static int SchemaVersion => Migrations.Length;

    /// <summary>Opens the store for reading; a store that does not exist yet reads as empty and is not created.</summary>
    public static StateStore OpenReadOnly(string path)
    {
        if (!File.Exists(path))
        {
            return new StateStore(null);
        }

        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        return new StateStore(HasSchema(connection) ? connection : Close(connection));
    }

    /// <summary>Opens (creating and migrating as needed) the store for a run.</summary>
    public static StateStore OpenForWrite(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString());
        connection.Open();
        Execute(connection, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000;");
        Execute(connection, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        using var transaction = connection.BeginTransaction();
        var version = Convert.ToInt32(Scalar(connection, transaction, "SELECT COALESCE(MAX(version), 0) FROM schema_version"), CultureInfo.InvariantCulture);
        if (version > Migrations.Length)
        {
            throw new InvalidOperationException($"The state store {path} has schema version {version}, newer than this PlaybookRunner understands ({Migrations.Length}); upgrade PlaybookRunner");
        }

        for (var v = version; v < Migrations.Length; v++)
        {
            Execute(connection, Migrations[v], transaction);
            Execute(connection, $"INSERT INTO schema_version (version) VALUES ({v + 1})", transaction);
        }

        transaction.Commit();
        return new StateStore(connection);
    }

    private static SqliteConnection? Close(SqliteConnection connection)
    {
        connection.Dispose();
        return null;
    }

    private static bool HasSchema(SqliteConnection connection) =>
        Convert.ToInt64(Scalar(connection, null, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'actions'"), CultureInfo.InvariantCulture) > 0;

    /// <inheritdoc />
    public DateTimeOffset? LastFired(string playbook, string rule, string key) =>
        _lastFired.TryGetValue((playbook, rule, key), out var at) ? at : null;

    /// <summary>Records a firing and its actions as pending, in one transaction, before anything is executed.</summary>
    public void RecordFiring(string playbook, string rule, string key, DateTimeOffset firedAt, IReadOnlyList<(string IdempotencyKey, int Index, string Type, string Payload)> actions, DateTimeOffset now)
    {
        var connection = Writable();
        using var transaction = connection.BeginTransaction();
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "INSERT OR IGNORE INTO firings (playbook, rule, key, fired_at) VALUES ($p, $r, $k, $at)";
            command.Parameters.AddWithValue("$p", playbook);
            command.Parameters.AddWithValue("$r", rule);
            command.Parameters.AddWithValue("$k", key);
            command.Parameters.AddWithValue("$at", FormatInstant(firedAt));
            command.ExecuteNonQuery();
        }

        foreach (var action in actions)
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                INSERT OR IGNORE INTO actions (idempotency_key, playbook, rule, key, action_index, fired_at, type, payload, state, attempts, updated_at)
                VALUES ($id, $p, $r, $k, $i, $at, $t, $payload, 'pending', 0, $now)
                """;
            command.Parameters.AddWithValue("$id", action.IdempotencyKey);
            command.Parameters.AddWithValue("$p", playbook);
            command.Parameters.AddWithValue("$r", rule);
            command.Parameters.AddWithValue("$k", key);
            command.Parameters.AddWithValue("$i", action.Index);
            command.Parameters.AddWithValue("$at", FormatInstant(firedAt));
            command.Parameters.AddWithValue("$t", action.Type);
            command.Parameters.AddWithValue("$payload", action.Payload);
            command.Parameters.AddWithValue("$now", FormatInstant(now));
            command.ExecuteNonQuery();
        }

        transaction.Commit();
        _lastFired[(playbook, rule, key)] = firedAt;
    }

    /// <summary>Records the outcome of one attempt.</summary>
    public void RecordAttempt(string idempotencyKey, ActionState state, string? error, DateTimeOffset now, int attempts = 1)
    {
        using var command = Writable().CreateCommand();
        command.CommandText = "UPDATE actions SET state = $s, attempts = attempts + $n, last_error = $e, updated_at = $now WHERE idempotency_key = $id";
        command.Parameters.AddWithValue("$n", attempts);
        command.Parameters.AddWithValue("$s", StateName(state));
        command.Parameters.AddWithValue("$e", (object?)error ?? DBNull.Value);
        command.Parameters.AddWithValue("$now", FormatInstant(now));
        command.Parameters.AddWithValue("$id", idempotencyKey);
        command.ExecuteNonQuery();
    }

    /// <summary>Records one attempt at an action: when, how it ended (succeeded, transient, permanent) and the message.</summary>
    public void RecordAttemptRow(string idempotencyKey, DateTimeOffset at, string outcome, string message)
    {
        using var command = Writable().CreateCommand();
        command.CommandText = """
            INSERT INTO attempts (idempotency_key, attempt, at, outcome, message)
            VALUES ($id, (SELECT COUNT(*) + 1 FROM attempts WHERE idempotency_key = $id), $at, $o, $m)
            """;
        command.Parameters.AddWithValue("$id", idempotencyKey);
        command.Parameters.AddWithValue("$at", FormatInstant(at));
        command.Parameters.AddWithValue("$o", outcome);
        command.Parameters.AddWithValue("$m", message);
        command.ExecuteNonQuery();
    }

    /// <summary>Every attempt at one action, in order.</summary>
    public IReadOnlyList<(int Attempt, DateTimeOffset At, string Outcome, string Message)> Attempts(string idempotencyKey)
    {
        var result = new List<(int, DateTimeOffset, string, string)>();
        if (_connection is null)
        {
            return result;
        }

        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT attempt, at, outcome, message FROM attempts WHERE idempotency_key = $id ORDER BY attempt";
        command.Parameters.AddWithValue("$id", idempotencyKey);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            result.Add((reader.GetInt32(0), ParseInstant(reader.GetString(1)), reader.GetString(2), reader.GetString(3)));
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
            where.Add(rule.Contains('/', StringComparison.Ordinal) ? "playbook || '/' || rule = $rule" : "rule = $rule");
            parameters.Add(("$rule", rule));
        }

        if (key is not null)
        {
            where.Add("key = $key");
            parameters.Add(("$key", key));
        }

        if (failedOnly)
        {
            where.Add("state = 'dead'");
        }

        var clause = (where.Count == 0 ? "" : "WHERE " + string.Join(" AND ", where)) + $" ORDER BY fired_at DESC, playbook, rule, key, action_index LIMIT {limit}";
        return Query(clause, parameters);
    }

    private List<ActionRecord> Query(string clause, IReadOnlyList<(string Name, object Value)> parameters)
    {
        var result = new List<ActionRecord>();
        if (_connection is null)
        {
            return result;
        }

        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT idempotency_key, playbook, rule, key, action_index, fired_at, type, payload, state, attempts, last_error, updated_at FROM actions " + clause;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            result.Add(new ActionRecord(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4),
                ParseInstant(reader.GetString(5)), reader.GetString(6), reader.GetString(7),
                reader.GetString(8) switch { "succeeded" => ActionState.Succeeded, "dead" => ActionState.Dead, _ => ActionState.Pending },
                reader.GetInt32(9), reader.IsDBNull(10) ? null : reader.GetString(10), ParseInstant(reader.GetString(11))));
        }

        return result;
    }

    private SqliteConnection Writable() => _connection ?? throw new InvalidOperationException("The state store was opened read-only");

    public static string StateName(ActionState state) => state switch
    {
        ActionState.Succeeded => "succeeded",
        ActionState.Dead => "dead",
        _ => "pending",
    };

    public static string FormatInstant(DateTimeOffset instant) => instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static DateTimeOffset ParseInstant(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    private static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    public void Dispose() => _connection?.Dispose();
}
