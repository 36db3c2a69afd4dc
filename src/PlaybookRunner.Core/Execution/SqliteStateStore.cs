using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace PlaybookRunner.Core.Execution;

/// <summary>
/// The default state store: a SQLite file in WAL mode with synchronous=FULL. <c>plan</c> opens it
/// read-only (and never creates it); <c>run</c> and <c>daemon</c> write it. Its clock is the runner's
/// <see cref="TimeProvider"/>; it is meant for one runner at a time.
/// </summary>
internal sealed class SqliteStateStore : StateStore
{
    private SqliteStateStore(SqliteConnection? connection, TimeProvider time, TimeSpan lease)
        : base(connection, time, lease)
    {
    }

    protected override string NowSql => "@now";

    protected override string LeaseUntilSql => "@until";

    protected override void BindClock(DbCommand command)
    {
        var now = Time.GetUtcNow();
        Add(command, "@now", FormatInstant(now));
        Add(command, "@until", FormatInstant(now + Lease));
    }

    public static SqliteStateStore OpenReadOnly(string path, TimeProvider time)
    {
        if (!File.Exists(path))
        {
            return new SqliteStateStore(null, time, TimeSpan.Zero);
        }

        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        if (!HasSchema(connection))
        {
            connection.Dispose();
            return new SqliteStateStore(null, time, TimeSpan.Zero);
        }

        return new SqliteStateStore(connection, time, TimeSpan.Zero);
    }

    public static SqliteStateStore OpenForWrite(string path, TimeProvider time, TimeSpan lease)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString());
        try
        {
            connection.Open();
            using (var pragmas = connection.CreateCommand())
            {
                pragmas.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000;";
                pragmas.ExecuteNonQuery();
            }

            Migrate(connection, path);
            return new SqliteStateStore(connection, time, lease);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static bool HasSchema(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'actions'";
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
    }
}
