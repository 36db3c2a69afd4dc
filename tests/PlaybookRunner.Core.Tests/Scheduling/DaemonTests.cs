using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using PlaybookRunner.Hosting;

namespace PlaybookRunner.Core.Tests.Scheduling;

/// <summary>The daemon's scheduling, catch-up and reload, driven by a fake clock against a real SQLite store.</summary>
public sealed class DaemonTests
{
    private static string Workspace(TempWorkspace workspace, string schedule, string timezone = "UTC", string when = "tickets > 3", string extra = "")
    {
        workspace.Write("customers.csv", "id,tickets\nA,5\nB,1\n");
        workspace.Write("runner.yaml", """
            sources:
              crm: { kind: csv, path: customers.csv, key: id, fields: { id: string, tickets: int } }
            """);
        return workspace.Write("p.yaml", $$$"""
            playbook: p
            source: crm
            timezone: {{{timezone}}}
            schedule: "{{{schedule}}}"
            {{{extra}}}
            rules:
              - id: busy
                when: {{{when}}}
                actions:
                  - { type: file, path: out.jsonl, body: "{{ id }}" }
            """);
    }

    private static Daemon Start(TempWorkspace workspace, TimeProvider time, ListLogger? logger = null)
    {
        var daemon = new Daemon([workspace.Root], TestEngine.Options(time), logger ?? new ListLogger(), DaemonOptions.Default);
        Assert.True(daemon.Start());
        return daemon;
    }

    private static async Task Step(Daemon daemon, FakeTimeProvider time, DateTimeOffset until, TimeSpan step)
    {
        while (time.GetUtcNow() < until)
        {
            time.Advance(step);
            await daemon.RunDueAsync(time.GetUtcNow(), CancellationToken.None);
        }
    }

    private static List<string> Ticks(TempWorkspace workspace)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(workspace.Root, "playbook-state.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT due_at || ' ' || state FROM ticks ORDER BY due_at";
        using var reader = command.ExecuteReader();
        var ticks = new List<string>();
        while (reader.Read())
        {
            ticks.Add(reader.GetString(0));
        }

        return ticks;
    }

    /// <summary>The ticks a daemon records for <paramref name="schedule"/> in London, stepping a fake clock five minutes at a time.</summary>
    private static async Task<List<string>> LondonTicks(string schedule, string from, string to)
    {
        using var workspace = new TempWorkspace();
        Workspace(workspace, schedule, "Europe/London");
        var time = new FakeTimeProvider(DateTimeOffset.Parse(from, System.Globalization.CultureInfo.InvariantCulture));
        using var daemon = Start(workspace, time);
        await daemon.CatchUpAsync(CancellationToken.None);
        await Step(daemon, time, DateTimeOffset.Parse(to, System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromMinutes(5));
        return Ticks(workspace);
    }

    [Fact]
    public async Task A_fall_back_hour_does_not_fire_twice() =>
        // 01:30 BST on the 25th (00:30Z); the repeated 01:30 (now GMT, 01:30Z) does not fire; 01:30 GMT on the 26th does.
        Assert.Equal(
            ["2026-10-25T00:30:00.0000000Z done", "2026-10-26T01:30:00.0000000Z done"],
            await LondonTicks("30 1 * * *", "2026-10-24T22:00:00Z", "2026-10-26T03:00:00Z"));

    [Fact]
    public async Task A_time_skipped_by_spring_forward_fires_at_the_end_of_the_gap() =>
        // 01:30 does not exist on the 29th in London (01:00 GMT jumps to 02:00 BST): it fires at 02:00 BST, 01:00Z.
        Assert.Equal(
            ["2026-03-28T01:30:00.0000000Z done", "2026-03-29T01:00:00.0000000Z done", "2026-03-30T00:30:00.0000000Z done"],
            await LondonTicks("30 1 * * *", "2026-03-28T00:00:00Z", "2026-03-30T03:00:00Z"));

    [Fact]
    public async Task An_interval_schedule_fires_at_every_real_instant_across_fall_back() =>
        // Every hour of real time, including both 01:00s (BST then GMT).
        Assert.Equal(
            ["2026-10-25T00:00:00.0000000Z done", "2026-10-25T01:00:00.0000000Z done", "2026-10-25T02:00:00.0000000Z done"],
            await LondonTicks("0 * * * *", "2026-10-24T23:30:00Z", "2026-10-25T02:30:00Z"));

    /// <summary>A daemon runs the 08:00 tick of 2 March, is down until 09:00 on the 5th, then starts again.</summary>
    private static async Task<(List<string> Ticks, List<string> Keys)> DownForThreeDays(string extra)
    {
        using var workspace = new TempWorkspace();
        Workspace(workspace, "0 8 * * *", extra: extra);
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-03-02T07:30:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using (var first = Start(workspace, time))
        {
            await first.CatchUpAsync(CancellationToken.None);
            await Step(first, time, DateTimeOffset.Parse("2026-03-02T08:10:00Z", System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromMinutes(5));
        }

        time.SetUtcNow(DateTimeOffset.Parse("2026-03-05T09:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using (var second = Start(workspace, time))
        {
            await second.CatchUpAsync(CancellationToken.None);
            await second.RunDueAsync(time.GetUtcNow(), CancellationToken.None);
        }

        return (Ticks(workspace), [.. TestEngine.History([workspace.Root], null, null, failedOnly: false).Entries.Select(h => h.IdempotencyKey)]);
    }

    [Fact]
    public async Task Ticks_missed_while_down_run_once_at_start_up()
    {
        // The ticks of the 3rd, 4th and 5th were missed; only the latest runs, once.
        var (ticks, keys) = await DownForThreeDays("");
        Assert.Equal(["2026-03-02T08:00:00.0000000Z done", "2026-03-05T08:00:00.0000000Z done"], ticks);
        Assert.Equal(["p/busy/A/0/20260305T080000.000Z", "p/busy/A/0/20260302T080000.000Z"], keys);
    }

    [Fact]
    public async Task Catchup_none_waits_for_the_next_tick()
    {
        var (ticks, keys) = await DownForThreeDays("catchup: none");
        Assert.Equal(["2026-03-02T08:00:00.0000000Z done"], ticks);
        Assert.Equal(["p/busy/A/0/20260302T080000.000Z"], keys);
    }

    [Fact]
    public async Task A_broken_edit_is_rejected_and_the_last_good_version_keeps_running_then_a_good_edit_unloads_the_old_rules()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, "0 * * * *");
        var logger = new ListLogger();
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-03-02T07:30:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using var daemon = Start(workspace, time, logger);
        await daemon.CatchUpAsync(CancellationToken.None);

        File.WriteAllText(file, File.ReadAllText(file).Replace("when: tickets > 3", "when: tickets >> \"3\"", StringComparison.Ordinal));
        Assert.True(daemon.Reload(time.GetUtcNow()));
        var rejected = Assert.Single(daemon.RejectedDiagnostics);
        Assert.Equal(("PB2001", file, 8, 11), (rejected.Id, rejected.Location.Path, rejected.Location.Line, rejected.Location.Column));
        var errors = logger.Lines.Where(l => l.Level == LogLevel.Error).Select(l => l.Message).ToList();
        Assert.Equal(2, errors.Count);
        Assert.Equal("The playbooks do not validate (1 errors); kept the last good version of p", errors[0]);
        // One diagnostic per log line, its path as validate prints it from the same working folder.
        Assert.Equal(Core.Diagnostics.DiagnosticFormatter.FormatText(rejected, Directory.GetCurrentDirectory()), errors[1]);
        Assert.Contains("p.yaml(8,11): error PB2001:", errors[1], StringComparison.Ordinal);
        Assert.DoesNotContain(logger.Lines, l => l.Message.StartsWith("Reloaded", StringComparison.Ordinal));
        Assert.Contains("playbook_reloads_total{result=\"rejected\"} 1", daemon.Metrics.Render(["p"], null), StringComparison.Ordinal);
        Assert.DoesNotContain("playbook_reloads_total{result=\"loaded\"} 1", daemon.Metrics.Render(["p"], null), StringComparison.Ordinal);

        // The old rule still runs: A (5 tickets) fires.
        await Step(daemon, time, DateTimeOffset.Parse("2026-03-02T08:00:00Z", System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromMinutes(10));
        Assert.Equal(["A"], TestEngine.History([workspace.Root], null, null, failedOnly: false).Entries.Select(e => e.Key));

        // A good edit loads (B fires too now) and the old compiled rules are unloaded and collected.
        File.WriteAllText(file, File.ReadAllText(file).Replace("when: tickets >> \"3\"", "when: tickets > 0", StringComparison.Ordinal));
        var unloaded = ReloadAndGetUnloaded(daemon, time.GetUtcNow());
        Assert.Empty(daemon.RejectedDiagnostics);
        for (var i = 0; i < 20 && unloaded.IsAlive; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.False(unloaded.IsAlive, "the replaced version's load context was not collected");
        await Step(daemon, time, DateTimeOffset.Parse("2026-03-02T09:00:00Z", System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromMinutes(10));
        Assert.Equal(["A", "B", "A"], TestEngine.History([workspace.Root], null, null, failedOnly: false).Entries.Select(e => e.Key));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference ReloadAndGetUnloaded(Daemon daemon, DateTimeOffset now)
    {
        Assert.True(daemon.Reload(now));
        return daemon.LastUnloaded ?? throw new InvalidOperationException("nothing was unloaded");
    }

    [Fact]
    public async Task A_broken_runner_yaml_keeps_everything_and_an_unrelated_playbook_edit_still_loads_beside_a_broken_one()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, "0 * * * *");
        var other = workspace.Write("q.yaml", """
            playbook: q
            source: crm
            schedule: "0 * * * *"
            rules:
              - { id: quiet, when: tickets < 2 }
            """);
        var logger = new ListLogger();
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-03-02T07:30:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using var daemon = Start(workspace, time, logger);
        var original = daemon.Current;

        var runner = Path.Combine(workspace.Root, "runner.yaml");
        var good = File.ReadAllText(runner);
        File.WriteAllText(runner, good.Replace("kind: csv", "kind: cvs", StringComparison.Ordinal));
        Assert.True(daemon.Reload(time.GetUtcNow()));
        Assert.Same(original, daemon.Current);
        Assert.Contains(daemon.RejectedDiagnostics, d => d.Location.Path == runner);

        // runner.yaml fixed; p broken, q edited: q's edit loads, p keeps its last good version.
        File.WriteAllText(runner, good);
        File.WriteAllText(file, File.ReadAllText(file).Replace("when: tickets > 3", "when: tickets >", StringComparison.Ordinal));
        File.WriteAllText(other, File.ReadAllText(other).Replace("tickets < 2", "tickets < 9", StringComparison.Ordinal));
        Assert.True(daemon.Reload(time.GetUtcNow()));
        Assert.NotSame(original, daemon.Current);
        Assert.Equal(["p", "q"], daemon.Current!.Prepared.Workspace.Playbooks.Select(p => p.Id));
        Assert.Equal("tickets > 3", daemon.Current.Prepared.Workspace.Playbooks[0].Rules[0].When.Value);
        Assert.Equal("tickets < 9", daemon.Current.Prepared.Workspace.Playbooks[1].Rules[0].When.Value);
        Assert.All(daemon.RejectedDiagnostics, d => Assert.Equal(file, d.Location.Path));
    }

    [Fact]
    public async Task Prometheus_metrics_count_evaluations_findings_and_actions()
    {
        using var workspace = new TempWorkspace();
        Workspace(workspace, "0 8 * * *");
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-03-02T07:30:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using var daemon = Start(workspace, time);
        await daemon.CatchUpAsync(CancellationToken.None);
        await Step(daemon, time, DateTimeOffset.Parse("2026-03-02T08:00:00Z", System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromMinutes(10));
        Assert.Equal(1, await daemon.ExecutePendingAsync(CancellationToken.None, CancellationToken.None));

        var text = daemon.Metrics.Render(["p"], daemon.StoreActions(), daemon.StoreBacklog(time.GetUtcNow()), storeUp: !daemon.StoreDownNow);
        var samples = text.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#') && !l.Contains("duration", StringComparison.Ordinal)).ToList();
        Assert.Equal(
            [
                "playbook_evaluations_total{playbook=\"p\"} 1",
                "playbook_findings_total{playbook=\"p\",rule=\"busy\"} 1",
                "playbook_actions_total{type=\"file\",outcome=\"succeeded\"} 1",
                "playbook_last_success_timestamp_seconds{playbook=\"p\"} 1772438400",
                "playbook_store_errors_total 0",
                "playbook_store_up 1",
                "playbook_backlog_actions 0",
                "playbook_oldest_pending_age_seconds 0",
                "playbook_store_actions{state=\"dead\"} 0",
                "playbook_store_actions{state=\"pending\"} 0",
                "playbook_store_actions{state=\"succeeded\"} 1",
            ],
            samples);
        Assert.Contains("# TYPE playbook_evaluation_duration_seconds histogram", text, StringComparison.Ordinal);
        Assert.Contains("playbook_evaluation_duration_seconds_count{playbook=\"p\"} 1", text, StringComparison.Ordinal);

        var page = StatusPage.Render(daemon, time.GetUtcNow(), daemon.RecentActions(10));
        Assert.Contains("<td>p</td><td><code>0 8 * * *</code></td><td>UTC</td><td>busy</td><td>2026-03-03 08:00:00Z</td><td>2026-03-02 08:00:00Z</td><td class=\"ok\">ok</td><td>1</td><td>1</td>", page, StringComparison.Ordinal);
        Assert.Contains("<td>p/busy</td><td>A</td><td>file</td><td class=\"succeeded\">succeeded</td><td>1</td>", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Shutdown_abandons_the_action_in_flight_which_stays_pending_and_runs_later_with_the_same_key()
    {
        var keys = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var slow = 1;
        using var arrived = new ManualResetEventSlim();
        using var server = new JsonApiServer(request =>
        {
            keys.Enqueue(request.Headers["Idempotency-Key"] ?? "");
            arrived.Set();
            if (Interlocked.Exchange(ref slow, 0) == 1)
            {
                Thread.Sleep(3000);
            }

            return (200, "{}", null);
        });
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, "0 8 * * *");
        File.WriteAllText(file, File.ReadAllText(file).Replace("{ type: file, path: out.jsonl, body: \"{{ id }}\" }", $"{{ type: webhook, url: \"{server.Url("/hook")}\", body: \"{{}}\" }}", StringComparison.Ordinal));
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-03-02T07:30:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using var daemon = Start(workspace, time);
        await daemon.CatchUpAsync(CancellationToken.None);
        await Step(daemon, time, DateTimeOffset.Parse("2026-03-02T08:00:00Z", System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromMinutes(10));

        using (var abort = new CancellationTokenSource())
        {
            // Abort while the request is in flight: the server has it and is still answering.
            var inFlight = daemon.ExecutePendingAsync(CancellationToken.None, abort.Token);
            Assert.True(arrived.Wait(TimeSpan.FromSeconds(30)), "the webhook was never called");
            await abort.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => inFlight);
        }

        var entry = Assert.Single(TestEngine.History([workspace.Root], null, null, failedOnly: false).Entries);
        Assert.Equal(("pending", "p/busy/A/0/20260302T080000.000Z"), (entry.State, entry.IdempotencyKey));

        // The claim was released: the next pass (this daemon or another) runs it at once, with the same key.
        Assert.Equal(1, await daemon.ExecutePendingAsync(CancellationToken.None, CancellationToken.None));
        Assert.Equal(["p/busy/A/0/20260302T080000.000Z", "p/busy/A/0/20260302T080000.000Z"], keys);
        Assert.Equal("succeeded", TestEngine.History([workspace.Root], null, null, failedOnly: false).Entries.Single().State);
    }

    [Fact]
    public async Task Stopping_during_a_retry_wait_leaves_the_action_pending_not_dead()
    {
        using var server = new JsonApiServer(_ => (503, "{}", null));
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, "0 8 * * *");
        File.WriteAllText(file, File.ReadAllText(file).Replace("{ type: file, path: out.jsonl, body: \"{{ id }}\" }", $"{{ type: webhook, url: \"{server.Url("/hook")}\", body: \"{{}}\" }}", StringComparison.Ordinal));
        File.AppendAllText(Path.Combine(workspace.Root, "runner.yaml"), "\nexecution: { max_attempts: 5, backoff_ms: 5000 }\n");
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-03-02T07:30:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using var daemon = Start(workspace, time);
        await daemon.CatchUpAsync(CancellationToken.None);
        await Step(daemon, time, DateTimeOffset.Parse("2026-03-02T08:00:00Z", System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromMinutes(10));

        using var stopping = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        Assert.Equal(0, await daemon.ExecutePendingAsync(stopping.Token, CancellationToken.None));
        var entry = Assert.Single(TestEngine.History([workspace.Root], null, null, failedOnly: false).Entries);
        Assert.Equal(("pending", 0), (entry.State, entry.Attempts));
    }

    [Fact]
    public async Task A_tick_above_max_actions_records_nothing_and_logs_the_refusal()
    {
        using var workspace = new TempWorkspace();
        Workspace(workspace, "0 8 * * *", when: "true", extra: "max_actions: 1");
        var logger = new ListLogger();
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-03-02T07:30:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using var daemon = Start(workspace, time, logger);
        await daemon.CatchUpAsync(CancellationToken.None);
        await Step(daemon, time, DateTimeOffset.Parse("2026-03-02T08:00:00Z", System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromMinutes(10));

        Assert.Empty(TestEngine.History([workspace.Root], null, null, failedOnly: false).Entries);
        Assert.Contains(logger.Lines, l => l.Level == LogLevel.Error && l.Message.Contains("error PB5006: Playbook 'p' would execute 2 actions, more than its max_actions of 1; nothing was executed", StringComparison.Ordinal));
        Assert.Equal(TickResult.Errors, Assert.Single(daemon.Schedules()).Last!.Result);
    }

    [Fact]
    public async Task A_runaway_condition_is_stopped_and_reported_and_the_daemon_runs_the_next_tick()
    {
        using var workspace = new TempWorkspace();
        Workspace(workspace, "0 * * * *", when: "'Enumerable.Range(0, 100000).SelectMany(i => Enumerable.Range(0, 100000)).Count(j => j < 0) > 0'");
        File.AppendAllText(Path.Combine(workspace.Root, "runner.yaml"), "\nexecution: { evaluation_budget_ms: 300 }\n");
        var logger = new ListLogger();
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-03-02T07:30:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using var daemon = Start(workspace, time, logger);
        await daemon.CatchUpAsync(CancellationToken.None);
        await Step(daemon, time, DateTimeOffset.Parse("2026-03-02T09:10:00Z", System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromMinutes(10));

        Assert.Equal(["2026-03-02T08:00:00.0000000Z done", "2026-03-02T09:00:00.0000000Z done"], Ticks(workspace));
        var stopped = logger.Lines.Count(l => l.Level == LogLevel.Error && l.Message.Contains("PB5003: Evaluation of playbook 'p' exceeded its time budget of 300 ms at key 'A'", StringComparison.Ordinal));
        // Stopped in the rule, or at the check before the record when a loaded machine spent the budget reading the data.
        Assert.True(stopped == 2, string.Join('\n', logger.Lines.Select(l => $"{l.Level} {l.Message}")));
        Assert.Equal(TickResult.Errors, Assert.Single(daemon.Schedules()).Last!.Result);
    }
}
