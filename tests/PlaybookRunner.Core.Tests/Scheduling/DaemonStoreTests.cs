using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using PlaybookRunner.Core.Execution;
using PlaybookRunner.Hosting;

namespace PlaybookRunner.Core.Tests.Scheduling;

/// <summary>
/// The daemon under store and sink faults, in process with real SQLite files and real HTTP listeners: a store that
/// vanishes, is emptied or replaced stops execution; one that fails pauses it without a redelivery loop; health says
/// what is wrong; lanes keep one hung receiver from holding up the others; backpressure stops new ticks.
/// </summary>
public sealed class DaemonStoreTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-03-02T07:30:00Z", System.Globalization.CultureInfo.InvariantCulture);

    private static void Workspace(TempWorkspace workspace, string actions = "- { type: file, path: out.jsonl, body: \"{{ id }}\" }", string runner = "", string customers = "id,tickets\nA,5\nB,1\n")
    {
        workspace.Write("customers.csv", customers);
        workspace.Write("runner.yaml", $$"""
            sources:
              crm: { kind: csv, path: customers.csv, key: id, fields: { id: string, tickets: int } }
            {{runner}}
            """);
        workspace.Write("p.yaml", $$"""
            playbook: p
            source: crm
            schedule: "0 8 * * *"
            rules:
              - id: busy
                when: tickets > 3
                actions:
                  {{actions}}
            """);
    }

    private static Daemon Started(TempWorkspace workspace, TimeProvider time, ListLogger logger, bool create = true)
    {
        var daemon = new Daemon([workspace.Root], TestEngine.Options(time), logger, DaemonOptions.Default with { CreateStore = create });
        Assert.True(daemon.Start());
        return daemon;
    }

    private static async Task TickAt(Daemon daemon, FakeTimeProvider time, string instant)
    {
        var at = DateTimeOffset.Parse(instant, System.Globalization.CultureInfo.InvariantCulture);
        time.SetUtcNow(at);
        await daemon.RunDueAsync(at, CancellationToken.None);
    }

    private static string Db(TempWorkspace workspace) => Path.Combine(workspace.Root, "playbook-state.db");

    private static void Sql(string db, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={db};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(string db, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={db};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private static void DeleteStore(string db)
    {
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(db + suffix);
        }
    }

    [Fact]
    public void A_daemon_refuses_to_start_on_a_missing_store_unless_told_to_create_it()
    {
        using var workspace = new TempWorkspace();
        Workspace(workspace);
        var logger = new ListLogger();
        using var refused = new Daemon([workspace.Root], TestEngine.Options(new FakeTimeProvider(Start)), logger, DaemonOptions.Default with { CreateStore = false });
        Assert.False(refused.Start());
        Assert.Contains(logger.Lines, l => l.Message.Contains("error PB5013: The state store", StringComparison.Ordinal) && l.Message.Contains("does not exist", StringComparison.Ordinal));
        Assert.False(File.Exists(Db(workspace)));

        using var created = Started(workspace, new FakeTimeProvider(Start), new ListLogger());
        Assert.True(File.Exists(Db(workspace)));
    }

    [Theory]
    [InlineData("deleted")]
    [InlineData("truncated")]
    [InlineData("emptied")]
    [InlineData("replaced")]
    public async Task A_store_deleted_emptied_or_replaced_under_a_running_daemon_stops_execution_and_raises_an_alert(string how)
    {
        using var workspace = new TempWorkspace();
        Workspace(workspace);
        var time = new FakeTimeProvider(Start);
        var logger = new ListLogger();
        using var daemon = Started(workspace, time, logger);
        await daemon.CatchUpAsync(CancellationToken.None);
        await TickAt(daemon, time, "2026-03-02T08:00:00Z");
        Assert.Equal(1, await daemon.ExecutePendingAsync(CancellationToken.None, CancellationToken.None));

        var db = Db(workspace);
        switch (how)
        {
            case "deleted":
                DeleteStore(db);
                break;
            case "truncated":
                DeleteStore(db);
                File.WriteAllBytes(db, []);
                break;
            case "emptied":
                Sql(db, "DELETE FROM attempts; DELETE FROM actions; DELETE FROM firings;");
                break;
            default:
                DeleteStore(db);
                using (SqliteStateStore.OpenForWrite(db, TimeProvider.System, TimeSpan.FromSeconds(30)))
                {
                }

                break;
        }

        // The next day's tick would fire for A again (a fresh store has no history): it must not.
        await TickAt(daemon, time, "2026-03-03T08:00:00Z");
        Assert.Equal(0, await daemon.ExecutePendingAsync(CancellationToken.None, CancellationToken.None));
        Assert.Single(File.ReadAllLines(Path.Combine(workspace.Root, "out.jsonl")));
        Assert.NotNull(daemon.StoreLost);
        Assert.Contains(daemon.Problems(time.GetUtcNow()), p => p.StartsWith("state store lost: ", StringComparison.Ordinal));
        Assert.Contains(logger.Lines, l => l.Level == Microsoft.Extensions.Logging.LogLevel.Critical && l.Message.Contains("Execution stopped", StringComparison.Ordinal));
        Assert.Equal(how is "truncated" or "emptied" or "replaced", File.Exists(db));
        Assert.Contains("playbook_store_up 0", daemon.Metrics.Render(["p"], null, storeUp: daemon.StoreLost is null), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_store_that_cannot_record_an_attempt_pauses_execution_without_sending_and_resumes_when_repaired()
    {
        using var server = new JsonApiServer(_ => (200, "{}", null));
        using var workspace = new TempWorkspace();
        Workspace(workspace, actions: $"- {{ type: webhook, url: \"{server.Url("/hook")}\", body: \"{{}}\" }}");
        var time = new FakeTimeProvider(Start);
        var logger = new ListLogger();
        using var daemon = Started(workspace, time, logger);
        await daemon.CatchUpAsync(CancellationToken.None);
        await TickAt(daemon, time, "2026-03-02T08:00:00Z");

        Sql(Db(workspace), "CREATE TRIGGER broken BEFORE INSERT ON attempts BEGIN SELECT RAISE(ABORT, 'database disk image is malformed'); END;");
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(0, await daemon.ExecutePendingAsync(CancellationToken.None, CancellationToken.None));
            time.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.Empty(server.Requests);
        Assert.True(daemon.StoreDownNow, string.Join("\n", logger.Lines.Select(l => l.Message)));
        Assert.Contains(daemon.Problems(time.GetUtcNow()), p => p.Contains("the state store fails what actions need since", StringComparison.Ordinal) && p.Contains("malformed", StringComparison.Ordinal));
        Assert.Single(logger.Lines, l => l.Message.Contains("The state store is unavailable", StringComparison.Ordinal));

        Sql(Db(workspace), "DROP TRIGGER broken");
        Assert.Equal(1, await daemon.ExecutePendingAsync(CancellationToken.None, CancellationToken.None));
        Assert.Single(server.Requests);
        Assert.DoesNotContain(daemon.Problems(time.GetUtcNow()), p => p.Contains("state store", StringComparison.Ordinal));
        Assert.Contains(logger.Lines, l => l.Message.Contains("reachable again", StringComparison.Ordinal));
    }

    [Fact]
    public void An_unreachable_store_at_start_is_waited_for_and_reported_not_a_crash()
    {
        using var workspace = new TempWorkspace();
        Workspace(workspace, runner: "state: { kind: postgres, connection: \"Host=127.0.0.1;Port=1;Username=x;Database=x;Timeout=2\" }");
        var time = new FakeTimeProvider(Start);
        using var daemon = Started(workspace, time, new ListLogger());
        Assert.True(daemon.StoreDownNow);
        Assert.Contains(daemon.Problems(time.GetUtcNow()), p => p.StartsWith("the state store is unreachable since 2026-03-02T07:30:00+00:00", StringComparison.Ordinal));
        Assert.Contains("playbook_store_up 0", daemon.Metrics.Render(["p"], null, storeUp: !daemon.StoreDownNow), StringComparison.Ordinal);
        Assert.DoesNotContain("playbook_store_errors_total 0", daemon.Metrics.Render(["p"], null), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_source_that_fails_at_a_tick_makes_the_daemon_unhealthy_until_a_tick_reads_it()
    {
        using var workspace = new TempWorkspace();
        Workspace(workspace);
        var time = new FakeTimeProvider(Start);
        using var daemon = Started(workspace, time, new ListLogger());
        await daemon.CatchUpAsync(CancellationToken.None);
        File.Move(Path.Combine(workspace.Root, "customers.csv"), Path.Combine(workspace.Root, "away.csv"));
        await TickAt(daemon, time, "2026-03-02T08:00:00Z");
        Assert.Contains(daemon.Problems(time.GetUtcNow()), p => p.StartsWith("the last tick of p (0 8 * * *) due 2026-03-02T08:00:00+00:00 could not read its data", StringComparison.Ordinal));
        Assert.Contains("playbook_source_errors_total{playbook=\"p\"} 1", daemon.Metrics.Render(["p"], null), StringComparison.Ordinal);

        File.Move(Path.Combine(workspace.Root, "away.csv"), Path.Combine(workspace.Root, "customers.csv"));
        await TickAt(daemon, time, "2026-03-03T08:00:00Z");
        Assert.DoesNotContain(daemon.Problems(time.GetUtcNow()), p => p.Contains("could not read its data", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Over_max_backlog_no_new_tick_is_recorded_until_the_backlog_drains()
    {
        using var workspace = new TempWorkspace();
        Workspace(workspace, runner: "execution: { max_backlog: 1 }", customers: "id,tickets\nA,5\nB,6\n");
        var time = new FakeTimeProvider(Start);
        var logger = new ListLogger();
        using var daemon = Started(workspace, time, logger);
        await daemon.CatchUpAsync(CancellationToken.None);
        await TickAt(daemon, time, "2026-03-02T08:00:00Z");
        Assert.Equal((2L, (TimeSpan?)TimeSpan.Zero), daemon.StoreBacklog(DateTimeOffset.Parse("2026-03-02T08:00:00Z", System.Globalization.CultureInfo.InvariantCulture)));

        // Two pending, bound one: the next tick waits, and health says why.
        await TickAt(daemon, time, "2026-03-03T08:00:00Z");
        Assert.Contains(daemon.Problems(time.GetUtcNow()), p => p.Contains("over max_backlog", StringComparison.Ordinal));
        Assert.Contains(logger.Lines, l => l.Message.Contains("Backpressure: 2 actions are pending, more than max_backlog 1", StringComparison.Ordinal));
        Assert.Contains("playbook_oldest_pending_age_seconds 86400", daemon.Metrics.Render(["p"], null, daemon.StoreBacklog(time.GetUtcNow())), StringComparison.Ordinal);

        // Drained: the waiting tick runs at the next poll.
        Assert.Equal(2, await daemon.ExecutePendingAsync(CancellationToken.None, CancellationToken.None));
        time.Advance(TimeSpan.FromSeconds(2));
        await daemon.RunDueAsync(time.GetUtcNow(), CancellationToken.None);
        Assert.DoesNotContain(daemon.Problems(time.GetUtcNow()), p => p.Contains("backlog", StringComparison.Ordinal));
        Assert.Equal(2, await daemon.ExecutePendingAsync(CancellationToken.None, CancellationToken.None));
        Assert.Equal(4, File.ReadAllLines(Path.Combine(workspace.Root, "out.jsonl")).Length);
        Assert.Equal(["20260303T080000.000Z", "20260303T080000.000Z", "20260302T080000.000Z", "20260302T080000.000Z"],
            TestEngine.History([workspace.Root], null, null, failedOnly: false).Entries.Select(e => e.IdempotencyKey.Split('/')[^1]));
    }

    [Fact]
    public async Task A_pass_executes_its_lanes_in_batches_and_delivers_every_action_once()
    {
        var received = new System.Collections.Concurrent.ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        using var hook = new JsonApiServer(request =>
        {
            received.AddOrUpdate(request.Headers["Idempotency-Key"] ?? "", 1, (_, n) => n + 1);
            return (200, "{}", null);
        });
        using var workspace = new TempWorkspace();
        var customers = "id,tickets\n" + string.Concat(Enumerable.Range(0, 300).Select(i => $"C{i:D4},5\n"));
        Workspace(
            workspace,
            actions: """
                - { type: webhook, channel: hook, body: '{"id": "{{ id }}"}' }
                      - { type: file, path: out.jsonl, body: "{{ id }}" }
                """,
            runner: $$"""
                channels:
                  hook: { kind: webhook, url: "{{hook.Url("/hook")}}" }
                """,
            customers: customers);
        var time = new FakeTimeProvider(Start);
        using var daemon = Started(workspace, time, new ListLogger());
        await daemon.CatchUpAsync(CancellationToken.None);
        await TickAt(daemon, time, "2026-03-02T08:00:00Z");

        Assert.Equal(600, await daemon.ExecutePendingAsync(CancellationToken.None, CancellationToken.None));

        // 300 webhooks in batches of 64 and 300 lines in one file batch: each once, every action succeeded at its first attempt.
        Assert.Equal(300, received.Count);
        Assert.All(received.Values, n => Assert.Equal(1, n));
        Assert.Equal(300, File.ReadAllLines(Path.Combine(workspace.Root, "out.jsonl")).Distinct().Count());
        Assert.Equal("succeeded:1:600", Scalar(Db(workspace), "SELECT state || ':' || attempts || ':' || COUNT(*) FROM actions GROUP BY state, attempts"));
    }

    [Fact]
    public async Task Outcomes_a_failing_store_could_not_record_are_recorded_when_it_answers_and_nothing_is_sent_twice()
    {
        using var workspace = new TempWorkspace();
        var db = Db(workspace);
        var broken = 0;
        var received = new System.Collections.Concurrent.ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        using var hook = new JsonApiServer(request =>
        {
            received.AddOrUpdate(request.Headers["Idempotency-Key"] ?? "", 1, (_, n) => n + 1);
            if (Interlocked.Exchange(ref broken, 1) == 0)
            {
                // After the batch was claimed and started: recording how its actions ended fails from here on.
                Sql(db, "CREATE TRIGGER fail BEFORE UPDATE OF state ON actions WHEN NEW.state <> 'pending' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
            }

            return (200, "{}", null);
        });
        Workspace(workspace, actions: "- { type: webhook, channel: hook, body: \"{}\" }", runner: $$"""
            channels:
              hook: { kind: webhook, url: "{{hook.Url("/hook")}}", concurrency: 2 }
            """, customers: "id,tickets\n" + string.Concat(Enumerable.Range(0, 20).Select(i => $"C{i:D4},5\n")));
        var time = new FakeTimeProvider(Start);
        var logger = new ListLogger();
        using var daemon = Started(workspace, time, logger);
        await daemon.CatchUpAsync(CancellationToken.None);
        await TickAt(daemon, time, "2026-03-02T08:00:00Z");

        await daemon.ExecutePendingAsync(CancellationToken.None, CancellationToken.None);
        var sent = hook.Requests.Count;
        Assert.InRange(sent, 1, 4);
        Assert.Contains(logger.Lines, l => l.Message.Contains("disk on fire", StringComparison.Ordinal));

        Sql(db, "DROP TRIGGER fail");
        time.Advance(TimeSpan.FromSeconds(10));
        await daemon.ExecutePendingAsync(CancellationToken.None, CancellationToken.None);

        // The actions sent before the failure were recorded late, not sent again; the rest went out once each.
        Assert.Equal(20, received.Count);
        Assert.All(received.Values, n => Assert.Equal(1, n));
        Assert.Equal("succeeded:20", Scalar(db, "SELECT state || ':' || COUNT(*) FROM actions GROUP BY state"));
    }

    [Fact]
    public async Task A_hung_receiver_holds_up_only_its_own_lane()
    {
        // The slow receiver holds every request until the test lets it go: however loaded the machine, the slow lane's
        // first action is still hanging while the quick lane delivers.
        using var release = new ManualResetEventSlim();
        using var hung = new JsonApiServer(_ =>
        {
            release.Wait(TimeSpan.FromSeconds(60));
            return (200, "{}", null);
        });
        using var fast = new JsonApiServer(_ => (200, "{}", null));
        using var workspace = new TempWorkspace();
        Workspace(
            workspace,
            actions: """
                - { type: webhook, channel: slow, body: "{}" }
                      - { type: webhook, channel: quick, body: "{}" }
                """,
            runner: $$"""
                channels:
                  slow: { kind: webhook, url: "{{hung.Url("/hook")}}", concurrency: 1 }
                  quick: { kind: webhook, url: "{{fast.Url("/hook")}}" }
                """,
            customers: "id,tickets\nA,5\nB,6\nC,7\nD,8\n");
        var time = new FakeTimeProvider(Start);
        using var daemon = Started(workspace, time, new ListLogger());
        await daemon.CatchUpAsync(CancellationToken.None);
        await TickAt(daemon, time, "2026-03-02T08:00:00Z");

        // Serially, the quick receiver's four actions would wait behind the hanging one; in lanes they go at once.
        var clock = Stopwatch.StartNew();
        var executing = daemon.ExecutePendingAsync(CancellationToken.None, CancellationToken.None);
        while (fast.Requests.Count < 4 && clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(20);
        }

        Assert.Equal(4, fast.Requests.Count);
        Assert.True(hung.Requests.Count <= 1, $"the slow lane ran {hung.Requests.Count} at a time; its concurrency is 1");
        release.Set();
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(8, await executing);
        Assert.Equal(4, hung.Requests.Count);
    }

    [Fact]
    public async Task A_store_deleted_during_a_pass_of_claims_gets_no_further_claim()
    {
        using var workspace = new TempWorkspace();
        var db = Db(workspace);
        var first = 1;
        var time = new FakeTimeProvider(Start);
        using var server = new JsonApiServer(_ =>
        {
            if (Interlocked.Exchange(ref first, 0) == 1)
            {
                DeleteStore(db);
                // The first action takes two seconds of the daemon's clock whatever the machine's load, so the pass checks
                // its store before its next claim (a loaded machine could otherwise advance the clock too little below).
                time.Advance(TimeSpan.FromSeconds(2));
                Thread.Sleep(500);
            }

            return (200, "{}", null);
        });
        Workspace(workspace, actions: $"- {{ type: webhook, channel: hook, body: \"{{}}\" }}", runner: $$"""
            channels:
              hook: { kind: webhook, url: "{{server.Url("/hook")}}", concurrency: 1 }
            """, customers: "id,tickets\nA,5\nB,6\nC,7\n");
        using var daemon = Started(workspace, time, new ListLogger());
        await daemon.CatchUpAsync(CancellationToken.None);
        await TickAt(daemon, time, "2026-03-02T08:00:00Z");

        var executing = daemon.ExecutePendingAsync(CancellationToken.None, CancellationToken.None);
        while (!executing.IsCompleted)
        {
            // The pass checks its store at most once a second of the daemon's clock.
            time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Delay(50);
        }

        Assert.Equal(1, await executing);
        Assert.Single(server.Requests);
        Assert.NotNull(daemon.StoreLost);
    }

    [Fact]
    public async Task A_tick_whose_firings_cannot_be_recorded_is_retried_as_the_same_occurrence_and_stays_reported_until_it_is()
    {
        using var workspace = new TempWorkspace();
        Workspace(workspace);
        var time = new FakeTimeProvider(Start);
        using var daemon = Started(workspace, time, new ListLogger());
        await daemon.CatchUpAsync(CancellationToken.None);
        Sql(Db(workspace), "CREATE TRIGGER broken BEFORE INSERT ON firings BEGIN SELECT RAISE(ABORT, 'database disk image is malformed'); END;");

        await TickAt(daemon, time, "2026-03-02T08:00:00Z");
        Assert.True(daemon.StoreDownNow);

        // A clean pass of the action worker (nothing to claim) does not clear what the ticks need.
        Assert.Equal(0, await daemon.ExecutePendingAsync(CancellationToken.None, CancellationToken.None));
        Assert.Contains(daemon.Problems(time.GetUtcNow()), p => p.StartsWith("the state store fails what ticks need since 2026-03-02T08:00:00+00:00", StringComparison.Ordinal));

        // Repaired: the next poll runs the tick as the occurrence it was (08:00), not as of the poll's instant.
        Sql(Db(workspace), "DROP TRIGGER broken");
        time.Advance(TimeSpan.FromSeconds(2));
        await daemon.RunDueAsync(time.GetUtcNow(), CancellationToken.None);
        Assert.False(daemon.StoreDownNow);
        Assert.Equal(1, await daemon.ExecutePendingAsync(CancellationToken.None, CancellationToken.None));
        Assert.Equal("p/busy/A/0/20260302T080000.000Z", TestEngine.History([workspace.Root], null, null, failedOnly: false).Entries.Single().IdempotencyKey);
        Assert.DoesNotContain("playbook_ticks_skipped_total{", daemon.Metrics.Render(["p"], null), StringComparison.Ordinal);
    }
}
