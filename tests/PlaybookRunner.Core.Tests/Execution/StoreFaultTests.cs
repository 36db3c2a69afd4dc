using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using PlaybookRunner.Core.Execution;

namespace PlaybookRunner.Core.Tests.Execution;

/// <summary>
/// Faults of a sink and of the state store for <c>run</c>, with real SQLite files and a real HTTP listener: transient
/// failures outlive a short outage (the retry horizon), a store that cannot record stops the run cleanly and sends
/// nothing it cannot record, and a missing store is never a silent fresh start.
/// </summary>
public sealed class StoreFaultTests
{
    private const string Key = "p/r/A/0/20260302T090000.000Z";
    private static readonly DateTimeOffset Day1 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private static string Workspace(TempWorkspace workspace, string url, string execution)
    {
        workspace.Write("customers.csv", "id\nA\n");
        workspace.Write("runner.yaml", $$"""
            sources:
              crm: { kind: csv, path: customers.csv, key: id, fields: { id: string } }
            execution: { {{execution}} }
            channels:
              hook: { kind: webhook, url: "{{url}}" }
            """);
        return workspace.Write("p.yaml", """
            playbook: p
            source: crm
            rules:
              - id: r
                when: "true"
                cooldown: 30d
                actions:
                  - { type: webhook, channel: hook, body: '{"id": "{{ id }}"}' }
            """);
    }

    private static string Db(TempWorkspace workspace) => Path.Combine(workspace.Root, "playbook-state.db");

    private static void Sql(TempWorkspace workspace, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={Db(workspace)};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static List<string> Attempts(TempWorkspace workspace)
    {
        using var store = Core.Execution.SqliteStateStore.OpenReadOnly(Db(workspace), TimeProvider.System);
        return [.. store.Attempts(Key).Select(a => a.Outcome)];
    }

    [Fact]
    public async Task A_transient_failure_stays_pending_across_runs_until_the_receiver_is_back_then_is_delivered_once_with_its_key()
    {
        var down = true;
        var keys = new ConcurrentQueue<string>();
        using var server = new JsonApiServer(request =>
        {
            keys.Enqueue(request.Headers["Idempotency-Key"] ?? "");
            return (Volatile.Read(ref down) ? 503 : 200, "{}", null);
        });
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, server.Url("/hook"), "max_attempts: 2, backoff_ms: 1");
        var time = new SteppedTimeProvider(Day1);

        // The receiver is down: two attempts, then the action waits (pending, not a dead letter); run exits 1 with a warning.
        var first = await TestEngine.RunAsync([file], Day1, time);
        var waiting = Assert.Single(first.Actions);
        Assert.Equal((false, Day1.AddSeconds(30), Day1.AddHours(1)), (waiting.Succeeded, waiting.RetryAt, waiting.GivesUpAt));
        Assert.False(first.Success);
        var warning = Assert.Single(first.Diagnostics, d => d.Id == "PB5015");
        Assert.Equal(Core.Diagnostics.DiagnosticSeverity.Warning, warning.Severity);
        Assert.Contains("attempted again from 2026-03-02T09:00:30+00:00 (by the next run or the daemon) until 2026-03-02T10:00:00+00:00", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(first.Diagnostics, d => d.Id == "PB5004");
        Assert.Equal(("pending", 2), TestEngine.History([file], null, null, failedOnly: false).Entries.Select(e => (e.State, e.Attempts)).Single());

        // Before its retry time a run leaves it alone (and the cooldown holds the customer: no second firing), and says so.
        time.Now = Day1.AddSeconds(10);
        var early = await TestEngine.RunAsync([file], Day1.AddSeconds(10), time);
        Assert.Empty(early.Actions);
        Assert.Equal((1, (DateTimeOffset?)Day1.AddSeconds(30)), early.Waiting);
        Assert.Equal(2, keys.Count);

        // The receiver is back: the next run after the retry time delivers it, once, with the same key.
        Volatile.Write(ref down, false);
        time.Now = Day1.AddSeconds(31);
        var later = await TestEngine.RunAsync([file], Day1.AddSeconds(31), time);
        var delivered = Assert.Single(later.Actions);
        Assert.True(delivered.Succeeded && delivered.Recovered);
        Assert.True(later.Success);
        Assert.Equal([Key, Key, Key], keys);
        Assert.Equal(["transient", "transient", "succeeded"], Attempts(workspace));
    }

    [Fact]
    public async Task A_transient_failure_past_its_retry_horizon_is_a_dead_letter_and_plan_says_how_to_requeue_it()
    {
        using var server = new JsonApiServer(_ => (503, "{}", null));
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, server.Url("/hook"), "max_attempts: 1, retry_horizon_minutes: 1");
        var time = new SteppedTimeProvider(Day1);

        Assert.Equal(Day1.AddSeconds(30), Assert.Single((await TestEngine.RunAsync([file], Day1, time)).Actions).RetryAt);
        time.Now = Day1.AddSeconds(30);
        // The wait doubles, but never past the horizon: the last round is at its end.
        Assert.Equal(Day1.AddMinutes(1), Assert.Single((await TestEngine.RunAsync([file], Day1, time)).Actions).RetryAt);
        time.Now = Day1.AddMinutes(1);
        var last = await TestEngine.RunAsync([file], Day1, time);

        var dead = Assert.Single(last.Actions);
        Assert.Null(dead.RetryAt);
        Assert.EndsWith("(gave up after retrying since 2026-03-02T09:00:00+00:00)", dead.Message, StringComparison.Ordinal);
        Assert.Contains(last.Diagnostics, d => d.Id == "PB5004");
        Assert.Equal(("dead", 3), TestEngine.History([file], null, null, failedOnly: true).Entries.Select(e => (e.State, e.Attempts)).Single());
        Assert.Equal(["transient", "transient", "transient"], Attempts(workspace));

        var plan = await TestEngine.PlanAsync([file], Day1.AddDays(1));
        Assert.Contains("hook: HTTP 503 Service Unavailable (gave up after retrying since 2026-03-02T09:00:00+00:00)); it starts no cooldown", Core.Planning.PlanWriter.WriteText(new Core.Planning.PlanView(plan.Plan!, workspace.Root)), StringComparison.Ordinal);
        Assert.Contains("playbook requeue --rule p/r --key=A", Core.Planning.PlanWriter.WriteText(new Core.Planning.PlanView(plan.Plan!, workspace.Root)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_attempt_is_recorded_before_the_wait_for_the_next_so_a_crash_then_leaves_it_right()
    {
        var requests = 0;
        using var server = new JsonApiServer(_ => Interlocked.Increment(ref requests) == 1
            ? (503, "{}", new Dictionary<string, string> { ["Retry-After"] = "2" })
            : (200, "{}", null));
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, server.Url("/hook"), "max_attempts: 2, backoff_ms: 1");
        var run = TestEngine.RunAsync([file], Day1, TimeProvider.System);
        while (Volatile.Read(ref requests) == 0)
        {
            await Task.Delay(20);
        }

        // Waiting out Retry-After: the first attempt is on disk with its outcome (a run killed now leaves it so).
        await Task.Delay(500);
        Assert.Equal(["transient"], Attempts(workspace));
        Assert.True((await run).Success);
        Assert.Equal(["transient", "succeeded"], Attempts(workspace));
    }

    [Theory]
    [InlineData("INSERT ON attempts")]
    [InlineData("INSERT ON firings")]
    public async Task A_store_that_cannot_record_before_sending_sends_nothing_and_stops_the_run_with_PB5014_every_time(string broken)
    {
        using var server = new JsonApiServer(_ => (200, "{}", null));
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, server.Url("/hook"), "max_attempts: 2, backoff_ms: 1");
        using (SqliteStateStore.OpenForWrite(Db(workspace), TimeProvider.System, TimeSpan.FromSeconds(30)))
        {
        }

        // A write the store refuses, as a corrupt page or a full disk would: the run must neither send nor loop.
        Sql(workspace, $"CREATE TRIGGER broken BEFORE {broken} BEGIN SELECT RAISE(ABORT, 'database disk image is malformed'); END;");
        for (var i = 0; i < 3; i++)
        {
            var run = await TestEngine.RunAsync([file], Day1, new FixedTimeProvider(Day1), createStore: false);
            var error = Assert.Single(run.Diagnostics, d => d.Id == "PB5014");
            Assert.Contains($"State store {Db(workspace)} failed: ", error.Message, StringComparison.Ordinal);
            Assert.Contains("database disk image is malformed", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("may have been delivered", error.Message, StringComparison.Ordinal);
            Assert.False(run.Success);
            Assert.Empty(run.Actions);
            Assert.Empty(server.Requests);
        }

        Sql(workspace, "DROP TRIGGER broken");
        var repaired = await TestEngine.RunAsync([file], Day1, new FixedTimeProvider(Day1), createStore: false);
        Assert.True(repaired.Success, string.Join("\n", repaired.Diagnostics.Select(d => d.Message)));
        Assert.Single(server.Requests);
    }

    [Theory]
    [InlineData("UPDATE ON attempts")]
    [InlineData("UPDATE OF state ON actions")]
    public async Task A_store_that_fails_after_sending_says_the_action_may_have_been_delivered_and_sends_it_once_more_with_its_key(string broken)
    {
        var keys = new ConcurrentQueue<string>();
        using var server = new JsonApiServer(request =>
        {
            keys.Enqueue(request.Headers["Idempotency-Key"] ?? "");
            return (200, "{}", null);
        });
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, server.Url("/hook"), "max_attempts: 2, backoff_ms: 1");
        using (SqliteStateStore.OpenForWrite(Db(workspace), TimeProvider.System, TimeSpan.FromSeconds(30)))
        {
        }

        Sql(workspace, $"CREATE TRIGGER broken BEFORE {broken} BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;");
        var run = await TestEngine.RunAsync([file], Day1, new FixedTimeProvider(Day1), createStore: false);
        var error = Assert.Single(run.Diagnostics, d => d.Id == "PB5014");
        Assert.True(error.Message.Contains($"{Key} may have been delivered: it stays pending", StringComparison.Ordinal), error.Message);
        Assert.Contains($"{Key} may have been delivered: it stays pending and is sent again with the same idempotency key once the store works", error.Message, StringComparison.Ordinal);
        Assert.Single(keys);

        Sql(workspace, "DROP TRIGGER broken");
        var again = await TestEngine.RunAsync([file], Day1, new FixedTimeProvider(Day1), createStore: false);
        Assert.True(again.Success);
        Assert.Equal([Key, Key], keys);
        Assert.Equal("succeeded", TestEngine.History([file], null, null, failedOnly: false).Entries.Single().State);
    }

    [Theory]
    [InlineData("never created")]
    [InlineData("deleted")]
    [InlineData("truncated")]
    public async Task Run_refuses_a_missing_store_with_PB5013_unless_told_to_create_it(string how)
    {
        using var server = new JsonApiServer(_ => (200, "{}", null));
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, server.Url("/hook"), "max_attempts: 1");
        if (how != "never created")
        {
            Assert.True((await TestEngine.RunAsync([file], Day1, new FixedTimeProvider(Day1), createStore: true)).Success);
            foreach (var suffix in new[] { "", "-wal", "-shm" })
            {
                File.Delete(Db(workspace) + suffix);
            }

            if (how == "truncated")
            {
                File.WriteAllBytes(Db(workspace), []);
            }
        }

        var sent = server.Requests.Count;
        var refused = await TestEngine.RunAsync([file], Day1.AddDays(40), new FixedTimeProvider(Day1.AddDays(40)), createStore: false);
        var error = Assert.Single(refused.Diagnostics);
        Assert.Equal("PB5013", error.Id);
        Assert.StartsWith($"The state store {Db(workspace)} does not exist (or is empty); nothing was run", error.Message, StringComparison.Ordinal);
        Assert.Null(refused.Plan);
        Assert.Equal(sent, server.Requests.Count);
        Assert.Equal(how == "truncated", File.Exists(Db(workspace)));

        // requeue does not create one either.
        Assert.Equal("PB5013", Assert.Single(TestEngine.Requeue([file], null, null, TimeProvider.System).Diagnostics).Id);

        var created = await TestEngine.RunAsync([file], Day1.AddDays(40), new FixedTimeProvider(Day1.AddDays(40)), createStore: true);
        Assert.True(created.Success);
        Assert.Equal(sent + 1, server.Requests.Count);
    }
}

/// <summary>What a run's exit code is made of.</summary>
public sealed class RunResultTests
{
    private static readonly Core.Planning.Plan Empty = new(DateTimeOffset.UnixEpoch, [], [], [], new Core.Planning.PlanSummary(0, 0, 0, 0, 0));

    private static ExecutedAction Action(bool succeeded) => new("k", "p", "r", "A", "webhook", succeeded, false, 1, "m");

    [Fact]
    public void A_run_that_only_left_actions_to_the_runner_that_claimed_them_succeeds()
    {
        Assert.True(new RunResult(Empty, [Action(true), Action(false) with { Abandoned = true }], []).Success);
    }

    [Fact]
    public void A_run_with_a_failed_action_or_one_waiting_for_a_retry_does_not_succeed()
    {
        Assert.False(new RunResult(Empty, [Action(false)], []).Success);
        Assert.False(new RunResult(Empty, [Action(false) with { RetryAt = DateTimeOffset.UnixEpoch }], []).Success);
    }
}

/// <summary><c>run</c> executes its actions in lanes, one per channel, as the daemon does.</summary>
public sealed class RunLaneTests
{
    [Fact]
    public async Task A_slow_receiver_holds_up_only_its_own_lane_and_results_keep_plan_order()
    {
        var events = new ConcurrentQueue<string>();
        using var slow = new JsonApiServer(_ =>
        {
            events.Enqueue("slow");
            Thread.Sleep(1500);
            return (200, "{}", null);
        });
        using var quick = new JsonApiServer(_ =>
        {
            events.Enqueue("quick");
            return (200, "{}", null);
        });
        using var workspace = new TempWorkspace();
        workspace.Write("customers.csv", "id\nA\nB\nC\n");
        workspace.Write("runner.yaml", $$"""
            sources:
              crm: { kind: csv, path: customers.csv, key: id, fields: { id: string } }
            channels:
              slow: { kind: webhook, url: "{{slow.Url("/hook")}}" }
              quick: { kind: webhook, url: "{{quick.Url("/hook")}}" }
            """);
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: crm
            rules:
              - id: r
                when: "true"
                actions:
                  - { type: webhook, channel: slow, body: "{}" }
                  - { type: webhook, channel: quick, body: "{}" }
            """);

        var run = await TestEngine.RunAsync([file], new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero), TimeProvider.System);

        Assert.True(run.Success);
        Assert.Equal(["A/0", "A/1", "B/0", "B/1", "C/0", "C/1"], run.Actions.Select(a => string.Join('/', a.IdempotencyKey.Split('/')[2..4])));
        // Serially, each quick request would wait for the slow one before it; in lanes all three come before the second slow one.
        var order = events.ToList();
        Assert.True(order.Select((e, i) => (e, i)).Where(x => x.e == "quick").Select(x => x.i).Last() < order.Select((e, i) => (e, i)).Where(x => x.e == "slow").Select(x => x.i).ElementAt(1), string.Join(", ", order));
    }
}
