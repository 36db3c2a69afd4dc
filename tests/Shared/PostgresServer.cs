using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace PlaybookRunner.Tests.Shared;

/// <summary>
/// A real PostgreSQL server on 127.0.0.1: the one named by PLAYBOOK_TEST_PG (set by .ci/run), or a
/// throw-away cluster this fixture starts with tests/scripts/start-postgres.sh and stops afterwards.
/// </summary>
public sealed class PostgresServer : IDisposable
{
    private readonly string? _directory;

    public PostgresServer()
    {
        if (Environment.GetEnvironmentVariable("PLAYBOOK_TEST_PG") is { Length: > 0 } existing)
        {
            ConnectionString = existing;
            return;
        }

        _directory = Path.Combine(Path.GetTempPath(), "pbpg-" + Guid.NewGuid().ToString("N")[..8]);
        var (code, output, error) = Run("start-postgres.sh", _directory, FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (code != 0)
        {
            throw new InvalidOperationException($"Could not start PostgreSQL (exit {code}): {error}");
        }

        ConnectionString = output.Trim();
    }

    public string ConnectionString { get; }

    public void Dispose()
    {
        if (_directory is not null)
        {
            Run("stop-postgres.sh", _directory);
        }
    }

    public static int FreePort() => JsonApiServer.FreePort();

    /// <summary>Starts (or restarts) a private cluster in <paramref name="directory"/> on <paramref name="port"/>, for outage tests; its connection string.</summary>
    public static string StartCluster(string directory, int port)
    {
        var (code, output, error) = Run("start-postgres.sh", directory, port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return code == 0 ? output.Trim() : throw new InvalidOperationException($"Could not start PostgreSQL (exit {code}): {error}");
    }

    /// <summary>Stops a private cluster (a fast shutdown: sessions are terminated, as in an outage); with <paramref name="keep"/> it can be started again.</summary>
    public static void StopCluster(string directory, bool keep) => Run("stop-postgres.sh", [directory, .. keep ? new[] { "--keep" } : []]);

    /// <summary>A new, empty database on the server; its connection string.</summary>
    public string CreateDatabase(string prefix)
    {
        var name = prefix + "_" + Guid.NewGuid().ToString("N")[..10];
        using (var connection = new Npgsql.NpgsqlConnection(ConnectionString))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = $"CREATE DATABASE {name}";
            command.ExecuteNonQuery();
        }

        return new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString) { Database = name }.ToString();
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PlaybookRunner.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("PlaybookRunner.sln not found above " + AppContext.BaseDirectory);
    }

    private static (int Code, string Out, string Err) Run(string script, params string[] args)
    {
        // A folder that outlives every test: a test that briefly makes its own temporary folder the current one must
        // not become the server's working directory, deleted under it (initdb then fails: "could not identify current directory").
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetTempPath() };
        info.ArgumentList.Add(Path.Combine(RepoRoot(), "tests", "scripts", script));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit(300_000);
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "postgres";
}
