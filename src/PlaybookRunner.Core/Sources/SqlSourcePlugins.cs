using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Npgsql;
using PlaybookRunner.Abstractions;

namespace PlaybookRunner.Core.Sources;

/// <summary>Shared streaming of a SQL query's rows: columns by name, values as the provider gives them.</summary>
internal abstract class SqlSourcePlugin : ISourcePlugin
{
    public abstract string Kind { get; }

    public IReadOnlyList<OptionProblem> ValidateOptions(SourceOptions options)
    {
        var problems = new List<OptionProblem>();
        if (string.IsNullOrWhiteSpace(options.Get("query")))
        {
            problems.Add(new("query", $"{Kind} sources need a query"));
        }
        else if (SqlQueryCheck.Problem(options.Get("query")!, Kind == "postgres") is { } problem)
        {
            problems.Add(new("query", problem));
        }

        problems.AddRange(ValidateConnection(options));
        return problems;
    }

    protected abstract IEnumerable<OptionProblem> ValidateConnection(SourceOptions options);

    protected abstract DbConnection Connect(SourceOptions options);

    /// <summary>Makes the session read-only where the database can, so a source query never changes data.</summary>
    protected virtual Task PrepareAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    public async IAsyncEnumerable<SourceRecord> ReadAsync(SourceOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = Connect(options);
        DbDataReader reader;
        DbCommand command;
        try
        {
            await connection.OpenAsync(cancellationToken);
            await PrepareAsync(connection, cancellationToken);
            command = connection.CreateCommand();
            // Checked at validate; checked again here, so that no path runs a query that is not one read.
            command.CommandText = SqlQueryCheck.Problem(options.Get("query")!, Kind == "postgres") is { } problem
                ? throw new SourceReadException($"The query was refused: {problem}")
                : options.Get("query")!;
            reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken);
        }
        catch (DbException ex)
        {
            throw new SourceReadException(ex.Message.TrimEnd('.'), ex);
        }

        await using (command)
        await using (reader)
        {
            var names = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToArray();
            var row = 0;
            while (true)
            {
                bool more;
                Dictionary<string, object?> values;
                try
                {
                    more = await reader.ReadAsync(cancellationToken);
                    if (!more)
                    {
                        break;
                    }

                    values = new Dictionary<string, object?>(names.Length, StringComparer.Ordinal);
                    for (var i = 0; i < names.Length; i++)
                    {
                        values[names[i]] = await reader.IsDBNullAsync(i, cancellationToken) ? null : reader.GetValue(i);
                    }
                }
                catch (DbException ex)
                {
                    throw new SourceReadException(ex.Message.TrimEnd('.'), ex);
                }

                row++;
                yield return new SourceRecord(values, $"row {row}");
            }
        }
    }
}

/// <summary>The built-in <c>sqlite</c> source: <c>path</c> to a SQLite file, opened read-only, and a <c>query</c>.</summary>
internal sealed class SqliteSourcePlugin : SqlSourcePlugin
{
    public override string Kind => "sqlite";

    protected override IEnumerable<OptionProblem> ValidateConnection(SourceOptions options)
    {
        if (options.Get("path") is null)
        {
            yield return new("path", "sqlite sources need a path");
        }
    }

    protected override DbConnection Connect(SourceOptions options)
    {
        var path = Path.GetFullPath(Path.Combine(options.BaseDirectory, options.Get("path")!));
        if (!File.Exists(path))
        {
            throw new SourceReadException($"Data file '{options.Get("path")}' was not found");
        }

        return new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly }.ToString());
    }
}

/// <summary>The built-in <c>postgres</c> source: a <c>connection</c> string (normally <c>${env:...}</c>) and a <c>query</c>.</summary>
internal sealed class PostgresSourcePlugin : SqlSourcePlugin
{
    public override string Kind => "postgres";

    protected override IEnumerable<OptionProblem> ValidateConnection(SourceOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.Get("connection")))
        {
            yield return new("connection", "postgres sources need a connection string, normally ${env:NAME}");
        }
    }

    protected override async Task PrepareAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY";
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    protected override DbConnection Connect(SourceOptions options)
    {
        try
        {
            return new NpgsqlConnection(PostgresConnections.Harden(options.Get("connection")!));
        }
        catch (ArgumentException ex)
        {
            throw new SourceReadException($"The connection string is not valid: {ex.Message.Split('\'')[0].TrimEnd(' ', '.')}", ex);
        }
    }
}
