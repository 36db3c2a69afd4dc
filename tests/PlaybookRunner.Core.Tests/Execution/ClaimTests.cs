using Microsoft.Extensions.Time.Testing;
using PlaybookRunner.Core.Execution;

namespace PlaybookRunner.Core.Tests.Execution;

/// <summary>Claims, leases and fencing tokens of the state store: SQLite on a fake clock, PostgreSQL on the database's clock.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ClaimTests(PostgresServer postgres)
{
    private const string Key = "p/r/A/0/20260302T090000.000Z";
    private static readonly DateTimeOffset Due = DateTimeOffset.Parse("2026-03-02T09:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

    private static void Record(StateStore store) =>
        store.RecordFiring("p", "r", "A", Due, [(Key, 0, "file", "file", "{}")], Due);

    [Fact]
    public void Sqlite_a_runner_that_lost_its_lease_can_neither_execute_nor_record()
    {
        using var workspace = new TempWorkspace();
        var path = Path.Combine(workspace.Root, "state.db");
        var time = new FakeTimeProvider(Due);
        using var a = SqliteStateStore.OpenForWrite(path, time, TimeSpan.FromSeconds(10));
        using var b = SqliteStateStore.OpenForWrite(path, time, TimeSpan.FromSeconds(10));
        Check(a, b, () => time.Advance(TimeSpan.FromSeconds(11)));
    }

    [Fact]
    public void Postgres_a_runner_that_lost_its_lease_can_neither_execute_nor_record()
    {
        var connection = postgres.CreateDatabase("pbclaims");
        using var a = PostgresStateStore.Open(connection, write: true, TimeProvider.System, TimeSpan.FromSeconds(1));
        using var b = PostgresStateStore.Open(connection, write: true, TimeProvider.System, TimeSpan.FromSeconds(1));
        Check(a, b, () => Thread.Sleep(1300));
    }

    private static void Check(StateStore a, StateStore b, Action leaseRunsOut)
    {
        Record(a);
        Record(b); // the same firing twice changes nothing
        var first = a.Claim("A", Key);
        Assert.Equal(1, first?.Fence);
        Assert.Null(b.Claim("B"));
        Assert.True(a.Renew(first!));

        leaseRunsOut();
        var second = b.Claim("B");
        Assert.Equal((Key, 2L), (second?.IdempotencyKey, second?.Fence));
        Assert.False(a.Renew(first!));
        Assert.False(a.RecordOutcome(first!, ActionState.Dead, "late", Due, 1));
        Assert.True(b.Renew(second!));
        Assert.True(b.RecordOutcome(second!, ActionState.Succeeded, null, Due, 1));
        Assert.Null(a.Claim("A", steal: true));
        Assert.Equal(("succeeded", 1L), (StateStore.StateName(a.History(null, null, false, 10).Single().State), a.CountByState()["succeeded"]));

        // Ticks: one claim; a live lease keeps others out; a stale one is taken over; only the holder finishes it.
        Assert.Equal(1, a.ClaimTick("p", "0 9 * * *", Due, "A"));
        Assert.Null(b.ClaimTick("p", "0 9 * * *", Due, "B"));
        leaseRunsOut();
        Assert.Equal([("p", "0 9 * * *", Due)], b.StaleTicks().Select(t => (t.Playbook, t.Schedule, t.DueAt)));
        Assert.Equal(2, b.ClaimTick("p", "0 9 * * *", Due, "B"));
        Assert.False(a.FinishTick("p", "0 9 * * *", Due, 1, Due));
        Assert.True(b.FinishTick("p", "0 9 * * *", Due, 2, Due));
        Assert.Null(a.ClaimTick("p", "0 9 * * *", Due, "A"));
        Assert.Empty(a.StaleTicks());
        Assert.Equal(Due, a.LastTick("p", "0 9 * * *"));
    }

    [Fact]
    public void Postgres_daemons_starting_together_migrate_once()
    {
        // Four connections opened at once on a loaded CI machine (every test project runs side by side): a generous connect timeout,
        // so that this tests the migration, not how fast the machine forks a backend.
        var connection = new Npgsql.NpgsqlConnectionStringBuilder(postgres.CreateDatabase("pbmigrate")) { Timeout = 60, CommandTimeout = 120 }.ToString();
        var stores = Enumerable.Range(0, 4).AsParallel().Select(_ => PostgresStateStore.Open(connection, write: true, TimeProvider.System, TimeSpan.FromSeconds(30))).ToList();
        foreach (var store in stores)
        {
            store.Dispose();
        }

        using var check = new Npgsql.NpgsqlConnection(connection);
        check.Open();
        using var command = check.CreateCommand();
        command.CommandText = "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version";
        Assert.Equal("1,2,3,4,5,6,7", command.ExecuteScalar());
    }

    [Theory]
    [InlineData("SELECT pg_advisory_lock(1346523726)")]
    [InlineData("BEGIN; SELECT pg_advisory_xact_lock(1346523726)")]
    [InlineData("BEGIN; SELECT * FROM meta FOR UPDATE; SELECT * FROM schema_version FOR UPDATE")]
    public async Task Postgres_a_stopped_peer_holding_the_migration_lock_or_its_rows_does_not_stall_opening_a_current_store(string held)
    {
        // A daemon stopped (SIGSTOP, a frozen VM) while it held the migration lock, or in the middle of a transaction
        // on the store's schema tables: the others open the store several times a second and must not wait for it.
        var connection = postgres.CreateDatabase("pbstall");
        using (PostgresStateStore.Open(connection, write: true, TimeProvider.System, TimeSpan.FromSeconds(30)))
        {
        }

        using var peer = new Npgsql.NpgsqlConnection(connection);
        peer.Open();
        using (var command = peer.CreateCommand())
        {
            command.CommandText = held;
            command.ExecuteNonQuery();
        }

        var opening = Task.Run(() =>
        {
            using var store = PostgresStateStore.Open(connection, write: true, TimeProvider.System, TimeSpan.FromSeconds(30));
            Record(store);
            return store.Claim("t1")?.IdempotencyKey;
        });

        // Before, the open waited on the lock until the 30 s command timeout and then failed.
        Assert.Equal(Key, await opening.WaitAsync(TimeSpan.FromSeconds(15)));
    }

    [Fact]
    public void A_missing_connection_variable_and_a_refused_login_are_diagnostics_without_the_secret()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("customers.csv", "id\nA\n");
        workspace.Write("runner.yaml", """
            sources:
              crm: { kind: csv, path: customers.csv, key: id, fields: { id: string } }
            state:
              kind: postgres
              connection: ${env:PB_TEST_STATE_URL}
            """);
        workspace.Write("p.yaml", "playbook: p\nsource: crm\nrules:\n  - { id: r, when: \"true\" }\n");

        Environment.SetEnvironmentVariable("PB_TEST_STATE_URL", null);
        var missing = TestEngine.Plan([workspace.Root], Due);
        Assert.Equal([("PB1023", 4, 3, "Environment variable 'PB_TEST_STATE_URL' is not set")], missing.Diagnostics.Select(d => (d.Id, d.Location.Line, d.Location.Column, d.Message)));

        var canary = TestCanary.New("state-password");
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(postgres.ConnectionString) { Password = canary, Username = "nobody_here" };
        Environment.SetEnvironmentVariable("PB_TEST_STATE_URL", builder.ToString());
        try
        {
            var refused = TestEngine.Plan([workspace.Root], Due);
            var diagnostic = Assert.Single(refused.Diagnostics);
            Assert.Equal(("PB1027", 4, 3), (diagnostic.Id, diagnostic.Location.Line, diagnostic.Location.Column));
            Assert.StartsWith("State store postgres: ", diagnostic.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(canary, diagnostic.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable("PB_TEST_STATE_URL", null);
        }
    }
}
