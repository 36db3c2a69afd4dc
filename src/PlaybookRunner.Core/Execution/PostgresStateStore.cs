using System.Data.Common;
using System.Globalization;
using Npgsql;

namespace PlaybookRunner.Core.Execution;

/// <summary>
/// The shared state store: PostgreSQL, for several daemons on one database. Leases are measured by the
/// database's clock (<c>clock_timestamp()</c>), so daemons with skewed clocks still agree on who holds
/// what; claims skip rows another daemon has locked. Migrations run under an advisory lock so that
/// daemons starting together do not race; a store already at this version is opened without it.
/// </summary>
internal sealed class PostgresStateStore : StateStore
{
    /// <summary>The advisory lock key migrations take ("PBRN").</summary>
    private const long MigrationLock = 0x5042524E;

    private const string Format = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"0Z\"'";

    private PostgresStateStore(NpgsqlConnection? connection, TimeProvider time, TimeSpan lease)
        : base(connection, time, lease)
    {
        Name = connection is null ? "postgres" : $"postgres database '{connection.Database}' on {connection.Host}";
    }

    public override string Name { get; }

    protected override string NowSql => $"to_char(clock_timestamp() AT TIME ZONE 'UTC', {Format})";

    protected override string LeaseUntilSql => $"to_char((clock_timestamp() + make_interval(secs => @lease)) AT TIME ZONE 'UTC', {Format})";

    protected override string SkipLockedSql => " FOR UPDATE SKIP LOCKED";

    protected override void BindClock(DbCommand command) => Add(command, "@lease", Lease.TotalSeconds);

    /// <summary>
    /// Opens the store; for writing, migrates it as needed. A database without the store's tables is given them only
    /// when <paramref name="create"/>; otherwise <see cref="StoreMissingException"/> (a lost store is never a silent fresh start).
    /// </summary>
    public static PostgresStateStore Open(string connectionString, bool write, TimeProvider time, TimeSpan lease, bool create = true)
    {
        var connection = new NpgsqlConnection(Sources.PostgresConnections.Harden(connectionString));
        try
        {
            connection.Open();
            if (!write)
            {
                using var exists = connection.CreateCommand();
                exists.CommandText = "SELECT to_regclass('actions') IS NOT NULL";
                if (exists.ExecuteScalar() is not true)
                {
                    connection.Dispose();
                    return new PostgresStateStore(null, time, lease);
                }

                return new PostgresStateStore(connection, time, lease);
            }

            if (!create)
            {
                using var exists = connection.CreateCommand();
                exists.CommandText = "SELECT to_regclass('actions') IS NOT NULL";
                if (exists.ExecuteScalar() is not true)
                {
                    throw new StoreMissingException($"postgres database '{connection.Database}' on {connection.Host}");
                }
            }

            if (Current(connection))
            {
                // The daemon opens the store for every unit of work, several times a second: a store already at this
                // version with its identity takes no lock, so a peer stopped while holding or waiting for the migration
                // lock (a paused process, a frozen VM) cannot stall everyone else's every statement.
                return new PostgresStateStore(connection, time, lease);
            }

            Execute(connection, $"SELECT pg_advisory_lock({MigrationLock.ToString(CultureInfo.InvariantCulture)})");
            try
            {
                Migrate(connection, connection.Database);
                EnsureIdentity(connection, time.GetUtcNow());
            }
            finally
            {
                Execute(connection, $"SELECT pg_advisory_unlock({MigrationLock.ToString(CultureInfo.InvariantCulture)})");
            }

            return new PostgresStateStore(connection, time, lease);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>True when the store's schema is this version's and it has its identity: nothing for <see cref="StateStore.Migrate"/> to do.</summary>
    private static bool Current(NpgsqlConnection connection)
    {
        using var tables = connection.CreateCommand();
        tables.CommandText = "SELECT to_regclass('schema_version') IS NOT NULL AND to_regclass('meta') IS NOT NULL";
        if (tables.ExecuteScalar() is not true)
        {
            return false;
        }

        using var current = connection.CreateCommand();
        current.CommandText = "SELECT (SELECT COALESCE(MAX(version), 0) FROM schema_version) = @version AND EXISTS (SELECT 1 FROM meta WHERE name = 'store_id')";
        Add(current, "@version", SchemaVersion);
        return current.ExecuteScalar() is true;
    }

    private static void Execute(NpgsqlConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
