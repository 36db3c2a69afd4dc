using Microsoft.Extensions.Time.Testing;
using PlaybookRunner.Core.Planning;
using PlaybookRunner.Hosting;

namespace PlaybookRunner.Core.Tests.Scheduling;

/// <summary>
/// The daemon's reviewed-only mode: it evaluates no schedule and executes exactly the saved plans put into
/// its folder, as <c>run --plan</c> does, against a real SQLite store and a real file sink.
/// </summary>
public sealed class ReviewedPlansTests
{
    private static readonly DateTimeOffset AsOf = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private static string Workspace(TempWorkspace workspace)
    {
        workspace.Write("customers.csv", "id,tickets\nA,5\nB,1\nC,7\n");
        return workspace.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: customers.csv, key: id, fields: { id: string, tickets: int } }
            schedule: "* * * * *"
            rules:
              - id: busy
                when: tickets > 3
                actions:
                  - { type: file, path: out.jsonl, body: "{{ id }}" }
            """);
    }

    private static void Save(TempWorkspace workspace, string folder, string name)
    {
        var planned = TestEngine.PlanAsync([workspace.Root], AsOf, provenance: true).GetAwaiter().GetResult();
        Assert.True(planned.Success, string.Join('\n', planned.Diagnostics.Select(d => d.Message)));
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, name), PlanDocument.Write(planned.Plan!, workspace.Root));
    }

    [Fact]
    public async Task Saved_plans_put_into_the_folder_are_executed_once_and_stale_ones_refused()
    {
        using var workspace = new TempWorkspace();
        Workspace(workspace);
        var folder = Path.Combine(workspace.Root, "approved");
        var time = new FakeTimeProvider(AsOf.AddHours(1));
        var logger = new ListLogger();
        using var daemon = new Daemon([workspace.Root], TestEngine.Options(time), logger, DaemonOptions.Default with { ReviewedPlans = folder });
        Assert.True(daemon.Start());
        Assert.Equal(0, await daemon.ApplyReviewedPlansAsync(folder, CancellationToken.None));

        Save(workspace, folder, "monday.plan.json");
        Assert.Equal(1, await daemon.ApplyReviewedPlansAsync(folder, CancellationToken.None));

        var lines = File.ReadAllLines(Path.Combine(workspace.Root, "out.jsonl"));
        Assert.Equal(["A", "C"], lines.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("key").GetString()));
        Assert.True(File.Exists(Path.Combine(folder, "applied", "monday.plan.json")));
        Assert.Contains("applied as of 2026-03-02T09:00:00+00:00: 2 actions succeeded, 0 failed", File.ReadAllText(Path.Combine(folder, "applied", "monday.plan.json.log")), StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFiles(folder, "*.plan.json"));

        // The same plan approved again sends nothing twice; a plan of an older workspace is refused.
        File.Copy(Path.Combine(folder, "applied", "monday.plan.json"), Path.Combine(folder, "again.plan.json"));
        Assert.Equal(1, await daemon.ApplyReviewedPlansAsync(folder, CancellationToken.None));
        Assert.Equal(2, File.ReadAllLines(Path.Combine(workspace.Root, "out.jsonl")).Length);
        Assert.Contains("applied as of 2026-03-02T09:00:00+00:00: 0 actions succeeded", File.ReadAllText(Path.Combine(folder, "applied", "again.plan.json.log")), StringComparison.Ordinal);

        Save(workspace, folder, "stale.plan.json");
        File.AppendAllText(Path.Combine(workspace.Root, "p.yaml"), "# edited\n");
        Assert.Equal(1, await daemon.ApplyReviewedPlansAsync(folder, CancellationToken.None));

        Assert.Equal(2, File.ReadAllLines(Path.Combine(workspace.Root, "out.jsonl")).Length);
        Assert.True(File.Exists(Path.Combine(folder, "refused", "stale.plan.json")));
        Assert.Contains("error PB1037: Saved plan: the workspace no longer matches it: p.yaml (changed)", File.ReadAllText(Path.Combine(folder, "refused", "stale.plan.json.log")), StringComparison.Ordinal);
        Assert.Contains(logger.Lines, l => l.Message.Contains("Reviewed plan stale.plan.json refused: nothing was executed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_plan_waits_in_the_folder_while_another_runner_holds_the_store()
    {
        using var workspace = new TempWorkspace();
        Workspace(workspace);
        var folder = Path.Combine(workspace.Root, "approved");
        var time = new FakeTimeProvider(AsOf.AddHours(1));
        using var daemon = new Daemon([workspace.Root], TestEngine.Options(time), new ListLogger(), DaemonOptions.Default with { ReviewedPlans = folder });
        Assert.True(daemon.Start());
        Save(workspace, folder, "monday.plan.json");
        using (var store = PlaybookRunner.Core.Execution.SqliteStateStore.OpenForWrite(Path.Combine(workspace.Root, "playbook-state.db"), time, TimeSpan.FromMinutes(5)))
        {
            store.Heartbeat("run:elsewhere:1:abcd1234", "run");
        }

        Assert.Equal(1, await daemon.ApplyReviewedPlansAsync(folder, CancellationToken.None));

        Assert.True(File.Exists(Path.Combine(folder, "monday.plan.json")));
        Assert.False(Directory.Exists(Path.Combine(folder, "refused")));
        Assert.False(File.Exists(Path.Combine(workspace.Root, "out.jsonl")));
    }

    [Fact]
    public async Task In_reviewed_only_mode_no_schedule_is_evaluated()
    {
        using var workspace = new TempWorkspace();
        Workspace(workspace);
        var time = new FakeTimeProvider(AsOf);
        using var daemon = new Daemon([workspace.Root], TestEngine.Options(time), new ListLogger(), new DaemonOptions(TimeSpan.FromSeconds(1)) { ReviewedPlans = Path.Combine(workspace.Root, "approved") });
        Assert.True(daemon.Start());
        using var stop = new CancellationTokenSource();
        var loop = daemon.RunSchedulerAsync(stop.Token);
        for (var i = 0; i < 5; i++)
        {
            time.Advance(TimeSpan.FromMinutes(1));
            await Task.Delay(20);
        }

        await stop.CancelAsync();
        await loop;
        Assert.False(File.Exists(Path.Combine(workspace.Root, "out.jsonl")));
    }

    [Fact]
    public async Task A_reviewed_only_daemon_keeps_a_run_out_and_applies_nothing_once_its_store_is_lost()
    {
        using var workspace = new TempWorkspace();
        Workspace(workspace);
        var folder = Path.Combine(workspace.Root, "approved");
        var time = new FakeTimeProvider(AsOf.AddHours(1));
        using var daemon = new Daemon([workspace.Root], TestEngine.Options(time), new ListLogger(), DaemonOptions.Default with { ReviewedPlans = folder });
        Assert.True(daemon.Start());
        Save(workspace, folder, "monday.plan.json");
        Assert.Equal(1, await daemon.ApplyReviewedPlansAsync(folder, CancellationToken.None));

        // Its worker executes pending actions too, so a manual run beside it is refused, as beside any daemon.
        var run = await TestEngine.RunAsync([workspace.Root], AsOf, time);
        Assert.True(run.Busy);
        Assert.Equal("PB5012", Assert.Single(run.Diagnostics).Id);

        // Emptied: a plan approved now would contact A and C again as if for the first time. It waits instead.
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(workspace.Root, "playbook-state.db")};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM attempts; DELETE FROM actions; DELETE FROM firings;";
            command.ExecuteNonQuery();
        }

        Save(workspace, folder, "tuesday.plan.json");
        Assert.Equal(0, await daemon.ApplyReviewedPlansAsync(folder, CancellationToken.None));
        Assert.NotNull(daemon.StoreLost);
        Assert.True(File.Exists(Path.Combine(folder, "tuesday.plan.json")));
        Assert.Equal(2, File.ReadAllLines(Path.Combine(workspace.Root, "out.jsonl")).Length);
    }
}
