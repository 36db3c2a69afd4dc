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
    private SqliteStateStore(SqliteConnection? connection, string path, TimeProvider time, TimeSpan lease)
        : base(connection, time, lease)
    {
        Name = path;
    }

    public override string Name { get; }

    protected override string NowSql => "@now";

    protected override string LeaseUntilSql => "@until";

    protected override void BindClock(DbCommand command)
    {
        var now = Time.GetUtcNow();
        Add(command, "@now", DateFormats.FormatStored(now));
        Add(command, "@until", DateFormats.FormatStored(now + Lease));
    }

    public static SqliteStateStore OpenReadOnly(string path, TimeProvider time)
    {
        if (!File.Exists(path))
        {
            return new SqliteStateStore(null, path, time, TimeSpan.Zero);
        }

        SqliteConnection connection;
        try
        {
            connection = Open(path);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode is 8 or 14)
        {
            // A folder this user may not write (history on a production store): a WAL database cannot be opened read-only
            // without creating its -shm file there. With no -wal beside it the file is complete, so read it as immutable.
            if (File.Exists(path + "-wal"))
            {
                throw;
            }

            connection = Open("file:" + Uri.EscapeDataString(Path.GetFullPath(path)).Replace("%2F", "/", StringComparison.Ordinal) + "?immutable=1");
        }

        if (!HasSchema(connection))
        {
            connection.Dispose();
            return new SqliteStateStore(null, path, time, TimeSpan.Zero);
        }

        return new SqliteStateStore(connection, path, time, TimeSpan.Zero);
    }

    /// <summary>
    /// Opens the store for writing, migrating it as needed. A store that does not exist (no file, or a file without
    /// the store's tables: deleted or emptied) is created only when <paramref name="create"/>; otherwise
    /// <see cref="StoreMissingException"/>, so that a lost store is never a silent fresh start.
    /// </summary>
    public static SqliteStateStore OpenForWrite(string path, TimeProvider time, TimeSpan lease, bool create = true)
    {
        if (!create && !File.Exists(path))
        {
            throw new StoreMissingException(path);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = create ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
        try
        {
            connection.Open();
            if (!create && !HasSchema(connection))
            {
                throw new StoreMissingException(path);
            }

            using (var pragmas = connection.CreateCommand())
            {
                pragmas.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000;";
                pragmas.ExecuteNonQuery();
            }

            Migrate(connection, path);
            EnsureIdentity(connection, time.GetUtcNow());
            return new SqliteStateStore(connection, path, time, lease);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static SqliteConnection Open(string dataSource)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = dataSource, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        try
        {
            connection.Open();
            HasSchema(connection);
            return connection;
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
