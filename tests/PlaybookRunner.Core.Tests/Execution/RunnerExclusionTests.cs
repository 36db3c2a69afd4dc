using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using PlaybookRunner.Core.Execution;
using PlaybookRunner.Hosting;

namespace PlaybookRunner.Core.Tests.Execution;

/// <summary>
/// One run at a time per store, and none beside a working daemon (docs/reliability.md, "One runner per store"),
/// against a real SQLite store and a real HTTP listener: the second runner refuses (PB5012), so no customer is
/// fired for twice; a runner that died is not in the way.
/// </summary>
public sealed class RunnerExclusionTests
{
    private static readonly DateTimeOffset AsOf = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private static string Workspace(TempWorkspace workspace, string url)
    {
        workspace.Write("d.csv", "id,n\nA,5\nB,6\nC,7\n");
        return workspace.Write("p.yaml", $$$"""
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }
            schedule: "0 * * * *"
            rules:
              - id: busy
                when: n > 3
                cooldown: 30d
                actions: [ { type: webhook, url: "{{{url}}}", body: '{"id": "{{ id }}"}' } ]
            """);
    }

    [Fact]
    public async Task A_second_run_while_one_executes_refuses_and_nothing_is_delivered_twice()
    {
        var delivered = new ConcurrentQueue<string>();
        using var release = new ManualResetEventSlim();
        using var executing = new ManualResetEventSlim();
        using var server = new JsonApiServer(request =>
        {
            executing.Set();
            release.Wait(TimeSpan.FromSeconds(30));
            delivered.Enqueue(request.RawUrl ?? "");
            return (200, "{}", null);
        });
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, server.Url("/hook"));

        var first = Task.Run(() => TestEngine.RunAsync([file], AsOf, TimeProvider.System));
        // The second starts once the first is delivering (a second started earlier could be the one that registers first).
        Assert.True(executing.Wait(TimeSpan.FromSeconds(60)), "the first run never delivered");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        RunResult second;
        do
        {
            await Task.Delay(100);
            second = await TestEngine.RunAsync([file], AsOf.AddMinutes(1), TimeProvider.System);
        }
        while (!second.Busy && DateTime.UtcNow < deadline && !first.IsCompleted);

        release.Set();
        var done = await first;

        Assert.True(second.Busy, "the second run was not refused");
        Assert.Empty(second.Actions);
        var refusal = Assert.Single(second.Diagnostics, d => d.IsError);
        Assert.Equal("PB5012", refusal.Id);
        Assert.Contains("a run (run:", refusal.Message, StringComparison.Ordinal);
        Assert.True(done.Success, string.Join('\n', done.Diagnostics.Select(d => d.Message)));
        Assert.Equal(3, delivered.Count);

        // Once the first has left, a run goes ahead: everything is held back by the cooldown, nothing is sent again.
        var third = await TestEngine.RunAsync([file], AsOf.AddMinutes(2), TimeProvider.System);
        Assert.False(third.Busy);
        Assert.Equal(3, delivered.Count);
        Assert.Equal(3, third.Plan!.Summary.HeldBack);
    }

    [Fact]
    public async Task A_run_beside_a_working_daemon_refuses_and_a_daemon_tick_waits_for_a_run()
    {
        var delivered = new ConcurrentQueue<string>();
        using var server = new JsonApiServer(request =>
        {
            delivered.Enqueue(request.RawUrl ?? "");
            return (200, "{}", null);
        });
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, server.Url("/hook"));
        var time = new FakeTimeProvider(AsOf.AddMinutes(-30));
        var logger = new ListLogger();
        using (var daemon = new Daemon([workspace.Root], TestEngine.Options(time), logger, DaemonOptions.Default))
        {
            Assert.True(daemon.Start());

            var refused = await TestEngine.RunAsync([file], AsOf, time);

            Assert.True(refused.Busy);
            Assert.Contains("a daemon (daemon:", Assert.Single(refused.Diagnostics, d => d.IsError).Message, StringComparison.Ordinal);
            Assert.Empty(delivered);
        }

        // The daemon left when it stopped: a run goes ahead.
        Assert.False((await TestEngine.RunAsync([file], AsOf, time)).Busy);
        Assert.Equal(3, delivered.Count);

        // A run live in the store (on another machine) makes a daemon's tick wait for the next poll.
        using var waiting = new Daemon([workspace.Root], TestEngine.Options(time), logger, DaemonOptions.Default);
        Assert.True(waiting.Start());
        await waiting.CatchUpAsync(CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(31));
        using (var store = SqliteStateStore.OpenForWrite(Path.Combine(workspace.Root, "playbook-state.db"), time, TimeSpan.FromMinutes(5)))
        {
            store.Heartbeat("run:elsewhere:1:abcd1234", "run");
        }

        await waiting.RunDueAsync(time.GetUtcNow(), CancellationToken.None);
        Assert.Contains(logger.Lines, l => l.Message.Contains("waits: a playbook run is executing against the state store", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("dead-process")]
    [InlineData("expired-lease")]
    public async Task A_runner_that_died_is_not_in_the_way(string how)
    {
        using var server = new JsonApiServer(_ => (200, "{}", null));
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, server.Url("/hook"));
        var db = Path.Combine(workspace.Root, "playbook-state.db");
        if (how == "dead-process")
        {
            // This machine, a process id no process has: a run killed with SIGKILL a moment ago.
            using var store = SqliteStateStore.OpenForWrite(db, TimeProvider.System, TimeSpan.FromMinutes(5));
            store.Heartbeat($"run:{Environment.MachineName}:{int.MaxValue - 7}:deadbeef", "run");
        }
        else
        {
            // Another machine whose lease ran out.
            using var store = SqliteStateStore.OpenForWrite(db, new FakeTimeProvider(DateTimeOffset.UtcNow.AddHours(-1)), TimeSpan.FromSeconds(30));
            store.Heartbeat("run:elsewhere:1:abcd1234", "run");
        }

        var run = await TestEngine.RunAsync([file], AsOf, TimeProvider.System);

        Assert.False(run.Busy, string.Join('\n', run.Diagnostics.Select(d => d.Message)));
        Assert.True(run.Success, string.Join('\n', run.Diagnostics.Select(d => d.Message)));
    }
}
