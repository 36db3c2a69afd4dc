using Microsoft.Data.Sqlite;
using Npgsql;

namespace PlaybookRunner.Core.Tests.Sources;

/// <summary>The built-in jsonl, sqlite and related sources, against real files.</summary>
public sealed class SourceKindsTests
{
    private static readonly DateTimeOffset AsOf = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private const string Rules = """
        rules:
          - id: quiet
            when: DaysSince(last_contact_at) > 30
            message: "{{ name }} {{ revenue | money }}"
        """;

    [Fact]
    public void Jsonl_records_are_typed_by_the_declared_fields()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("c.jsonl", """
            {"id": "A", "name": "Acme", "revenue": 1200.5, "last_contact_at": "2026-01-01T10:00:00Z", "tags": ["vip", "key"]}

            {"id": "B", "name": "Bolt", "revenue": 10, "last_contact_at": null}
            {"id": "C", "name": "Cask", "revenue": 3, "last_contact_at": "2026-03-01T10:00:00Z", "extra": {"nested": true}}
            """);
        var file = workspace.Write("p.yaml", "playbook: p\nsource: { kind: jsonl, path: c.jsonl, key: id, fields: { id: string, name: string, revenue: decimal, last_contact_at: datetime?, tags: \"string[]?\" } }\n" + Rules);
        var result = TestEngine.Plan([file], AsOf);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics.Select(d => d.Message)));
        Assert.Equal(["Acme 1,200.50", "Bolt 10.00"], result.Plan!.Findings.Select(f => f.Message));
        Assert.Equal(3, result.Plan.Summary.Records);
    }

    [Fact]
    public void Jsonl_bad_values_and_bad_lines_are_located()
    {
        using var workspace = new TempWorkspace();
        var data = workspace.Write("c.jsonl", "{\"id\": \"A\", \"n\": 1}\n{\"id\": \"B\", \"n\": 1.5}\n");
        var file = workspace.Write("p.yaml", "playbook: p\nsource: { kind: jsonl, path: c.jsonl, key: id, fields: { id: string, n: int } }\nrules:\n  - { id: r, when: n > 0 }\n");
        var error = Assert.Single(TestEngine.Plan([file], AsOf).Diagnostics);
        Assert.Equal(("PB4014", data, 2), (error.Id, error.Location.Path, error.Location.Line));
        Assert.Equal("line 2: field 'n' (int) '1.5' is not a valid int", error.Message);

        workspace.Write("c.jsonl", "{\"id\": \"A\", \"n\": 1}\n{\"id\": \"B\", \"n\": \n");
        error = Assert.Single(TestEngine.Plan([file], AsOf).Diagnostics);
        Assert.Equal(("PB4019", 2), (error.Id, error.Location.Line));
        Assert.StartsWith("line 2: not valid JSON", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sqlite_query_reads_a_real_database_file()
    {
        using var workspace = new TempWorkspace();
        var db = Path.Combine(workspace.Root, "crm.db");
        using (var connection = new SqliteConnection($"Data Source={db};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """
                CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, revenue REAL, last_contact_at TEXT, active INTEGER);
                INSERT INTO customers VALUES (1, 'Acme', 1200.5, '2026-01-01 10:00:00', 1), (2, 'Bolt', 10, NULL, 0), (3, 'Cask', 3, '2026-03-01T10:00:00', 1);
                """;
            command.ExecuteNonQuery();
        }

        var file = workspace.Write("p.yaml", """
            playbook: p
            source:
              kind: sqlite
              path: crm.db
              query: SELECT id, name, revenue, last_contact_at, active FROM customers ORDER BY id
              key: id
              fields: { id: long, name: string, revenue: decimal, last_contact_at: datetime?, active: bool }
            rules:
              - id: quiet
                when: active && DaysSince(last_contact_at) > 30
                message: "{{ id }} {{ name }} {{ revenue | money }}"
            """);
        var result = TestEngine.Plan([file], AsOf);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics.Select(d => d.Message)));
        Assert.Equal(["1 Acme 1,200.50"], result.Plan!.Findings.Select(f => f.Message));
    }

    [Fact]
    public void Sqlite_query_errors_name_the_source()
    {
        using var workspace = new TempWorkspace();
        var db = Path.Combine(workspace.Root, "crm.db");
        using (var connection = new SqliteConnection($"Data Source={db};Pooling=False"))
        {
            connection.Open();
        }

        var file = workspace.Write("p.yaml", "playbook: p\nsource: { kind: sqlite, path: crm.db, query: SELECT * FROM nope, key: id, fields: { id: long } }\nrules:\n  - { id: r, when: id > 0 }\n");
        var error = Assert.Single(TestEngine.Plan([file], AsOf).Diagnostics);
        Assert.Equal("PB4013", error.Id);
        Assert.Equal("Source 'p (inline)' (kind sqlite, built in) failed while reading: SQLite Error 1: 'no such table: nope'", error.Message);
    }

    [Fact]
    public void Related_records_are_attached_by_key()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("customers.csv", "id,name\nC1,Acme\nC2,Bolt\nC3,Cask\n");
        workspace.Write("activities.jsonl", """
            {"n": "1", "customer_id": "C1", "at": "2026-02-25T10:00:00Z", "kind": "call"}
            {"n": "2", "customer_id": "C1", "at": "2026-01-02T10:00:00Z", "kind": "email"}
            {"n": "3", "customer_id": "C2", "at": "2025-12-01T10:00:00Z", "kind": "call"}
            """);
        workspace.Write("runner.yaml", """
            sources:
              crm:
                kind: csv
                path: customers.csv
                key: id
                fields: { id: string, name: string }
                related: { activities: { source: activity_log, key: customer_id } }
              activity_log:
                kind: jsonl
                path: activities.jsonl
                key: n
                fields: { n: string, customer_id: string, at: datetime, kind: string }
            """);
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: crm
            rules:
              - id: silent
                when: DaysSince(activities.Max(a => (DateTime?)a.at)) > 30
                message: "{{ name }}: {{ activities.size }} activities{{ for a in activities }} {{ a.kind }}{{ end }}"
            """);
        var result = TestEngine.Plan([file], AsOf);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics.Select(d => d.Message)));
        Assert.Equal(["Bolt: 1 activities call", "Cask: 0 activities"], result.Plan!.Findings.Select(f => f.Message));
        Assert.Equal(3, result.Plan.Summary.Records);
    }

    [Fact]
    public void Related_to_an_unknown_source_is_a_validate_error()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("runner.yaml", "sources:\n  crm:\n    kind: csv\n    path: c.csv\n    key: id\n    fields: { id: string }\n    related: { activities: { source: nope, key: customer_id } }\n");
        workspace.Write("p.yaml", "playbook: p\nsource: crm\nrules:\n  - { id: r, when: activities.Count > 0 }\n");
        var error = Assert.Single(TestEngine.Validate([workspace.Root]).Diagnostics);
        Assert.Equal(("PB4016", 7, 16), (error.Id, error.Location.Line, error.Location.Column));
        Assert.Equal("Related 'activities': source 'nope' is not defined in runner.yaml", error.Message);
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresSourceTests(PostgresServer server)
{
    [Fact]
    public async Task Postgres_query_reads_a_real_server_with_the_connection_from_the_environment()
    {
        var table = "customers_" + Guid.NewGuid().ToString("N")[..8];
        await using (var connection = new NpgsqlConnection(server.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = $"""
                CREATE TABLE {table} (id text PRIMARY KEY, revenue numeric(12,2), nps int, last_contact_at timestamptz, renews date, tags text[]);
                INSERT INTO {table} VALUES ('A', 900000.00, 6, '2026-01-01T10:00:00Z', '2026-04-01', ARRAY['vip']),
                                           ('B', 1000.00, NULL, NULL, NULL, NULL);
                """;
            await command.ExecuteNonQueryAsync();
        }

        var variable = "PB_TEST_PG_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        // The cluster trusts loopback, so the password is never checked: it is a canary for the sweep.
        Environment.SetEnvironmentVariable(variable, new Npgsql.NpgsqlConnectionStringBuilder(server.ConnectionString) { Password = TestCanary.New("source-pg-password") }.ToString());
        try
        {
            using var workspace = new TempWorkspace();
            var file = workspace.Write("p.yaml", $$$"""
                playbook: p
                source:
                  kind: postgres
                  connection: "${env:{{{variable}}}}"
                  query: SELECT id, revenue, nps, last_contact_at, renews, tags FROM {{{table}}} ORDER BY id
                  key: id
                  fields: { id: string, revenue: decimal, nps: int?, last_contact_at: datetime?, renews: date?, tags: "string[]?" }
                rules:
                  - id: r
                    when: nps < 7 && DaysUntil(renews) < 60 && tags != null && tags.Contains("vip")
                    message: "{{ id }} {{ revenue | money }} {{ days_since last_contact_at }}"
                """);
            var result = await TestEngine.PlanAsync([file], new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero));
            Assert.True(result.Success, string.Join("\n", result.Diagnostics.Select(d => d.Message)));
            Assert.Equal(["A 900,000.00 59"], result.Plan!.Findings.Select(f => f.Message));
            Assert.Equal(2, result.Plan.Summary.Records);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task A_source_query_cannot_change_data()
    {
        var table = "guarded_" + Guid.NewGuid().ToString("N")[..8];
        await using (var connection = new NpgsqlConnection(server.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = $"CREATE TABLE {table} (id text PRIMARY KEY); INSERT INTO {table} VALUES ('A');";
            await command.ExecuteNonQueryAsync();
        }

        using var workspace = new TempWorkspace();
        var file = workspace.Write("p.yaml", $"playbook: p\nsource:\n  kind: postgres\n  connection: \"{server.ConnectionString}\"\n  query: WITH gone AS (DELETE FROM {table} RETURNING id) SELECT id FROM gone\n  key: id\n  fields: {{ id: string }}\nrules:\n  - {{ id: r, when: id != null }}\n");
        var error = Assert.Single((await TestEngine.PlanAsync([file], DateTimeOffset.UnixEpoch)).Diagnostics);
        // It passes the one-statement check (it starts with WITH); the read-only transaction stops it.
        Assert.Equal("PB4013", error.Id);
        Assert.Contains("read-only transaction", error.Message, StringComparison.Ordinal);
        var plain = workspace.Write("q.yaml", File.ReadAllText(file).Replace($"WITH gone AS (DELETE FROM {table} RETURNING id) SELECT id FROM gone", $"DELETE FROM {table} RETURNING id", StringComparison.Ordinal).Replace("playbook: p", "playbook: q", StringComparison.Ordinal));
        Assert.Equal("PB4012", Assert.Single(TestEngine.Validate([plain]).Diagnostics).Id);
        await using (var connection = new NpgsqlConnection(server.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = $"SELECT COUNT(*) FROM {table}";
            Assert.Equal(1L, await command.ExecuteScalarAsync());
        }
    }

    [Fact]
    public async Task Missing_connection_variable_is_a_located_diagnostic_and_errors_never_show_the_secret()
    {
        using var workspace = new TempWorkspace();
        var file = workspace.Write("p.yaml", "playbook: p\nsource:\n  kind: postgres\n  connection: \"${env:PB_SURELY_UNSET_VARIABLE}\"\n  query: SELECT 1 AS id\n  key: id\n  fields: { id: int }\nrules:\n  - { id: r, when: id > 0 }\n");
        var error = Assert.Single((await TestEngine.PlanAsync([file], DateTimeOffset.UnixEpoch)).Diagnostics);
        Assert.Equal(("PB1023", 4, 15), (error.Id, error.Location.Line, error.Location.Column));
        Assert.Equal("Environment variable 'PB_SURELY_UNSET_VARIABLE' is not set", error.Message);

        var variable = "PB_TEST_PG_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var password = TestCanary.New("source-password");
        Environment.SetEnvironmentVariable(variable, server.ConnectionString.Replace("Username=postgres", "Username=nobody_here", StringComparison.Ordinal) + $";Password={password}");
        try
        {
            workspace.Write("p.yaml", $"playbook: p\nsource:\n  kind: postgres\n  connection: \"${{env:{variable}}}\"\n  query: SELECT 1 AS id\n  key: id\n  fields: {{ id: int }}\nrules:\n  - {{ id: r, when: id > 0 }}\n");
            var failure = Assert.Single((await TestEngine.PlanAsync([file], DateTimeOffset.UnixEpoch)).Diagnostics);
            Assert.Equal("PB4013", failure.Id);
            Assert.DoesNotContain(password, failure.Message, StringComparison.Ordinal);
            Assert.Contains("nobody_here", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }
}
