using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Core.Tests.Planning;

/// <summary>
/// The rule lifecycle the state store follows, against a real SQLite store: <c>for:</c> (the condition must have held at
/// every evaluation for a while before the rule fires) and <c>on_resolve:</c> (what runs once when a fired condition stops
/// holding). The customers' data changes between runs as it would between two days.
/// </summary>
public sealed class LifecycleTests
{
    private static readonly DateTimeOffset Day1 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private const string WaitingRule = """
          - id: silent
            when: silent
            for: 3d
            message: "{{ id }} silent"
            actions: [ { type: file, path: out.jsonl, body: "silent {{ id }}" } ]
        """;

    private const string ResolvingRule = """
          - id: silent
            when: silent
            message: "{{ id }} silent"
            actions: [ { type: file, path: out.jsonl, body: "task open {{ id }}" } ]
            on_resolve:
              message: "{{ id }} back in touch (reminded {{ last_fired | date.to_string '%d %b' }})"
              actions: [ { type: file, path: out.jsonl, body: "task closed {{ id }}" } ]
        """;

    [Fact]
    public async Task A_rule_with_for_waits_until_its_condition_has_held_that_long_and_then_fires()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, WaitingRule, ("A", true), ("B", false));

        var first = await Run(file, Day1);
        Assert.True(first.Success, Problems(first));
        var waiting = Assert.Single(first.Plan!.Findings);
        Assert.Equal((FindingState.Waiting, Day1, Day1.AddDays(3)), (waiting.State, waiting.PendingSince, waiting.WaitingUntil));
        Assert.Equal(1, first.Plan.Summary.Waiting);
        Assert.Empty(first.Actions);

        // The next day the hold goes on from the first evaluation: still waiting, and the plan says until when.
        var plan = (await TestEngine.PlanAsync([file], Day1.AddDays(1))).Plan!;
        Assert.Equal((FindingState.Waiting, Day1, Day1.AddDays(3)), (plan.Findings[0].State, plan.Findings[0].PendingSince, plan.Findings[0].WaitingUntil));
        Assert.Contains(". A  A silent", PlanWriter.WriteText(new PlanView(plan, workspace.Root)), StringComparison.Ordinal);
        Assert.Contains($"waiting: pending since 2026-03-02T09:00:00+00:00, fires 2026-03-05T09:00:00+00:00 if it still holds", PlanWriter.WriteText(new PlanView(plan, workspace.Root)), StringComparison.Ordinal);
        Assert.True((await Run(file, Day1.AddDays(1))).Success);

        var third = await Run(file, Day1.AddDays(3));
        Assert.True(third.Success, Problems(third));
        var fired = Assert.Single(third.Plan!.Findings);
        Assert.Equal((FindingState.Pending, Day1, (DateTimeOffset?)null), (fired.State, fired.PendingSince, fired.WaitingUntil));
        Assert.Equal(["silent A"], Lines(workspace));
    }

    [Fact]
    public async Task An_evaluation_at_which_the_condition_is_false_starts_the_wait_again()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, WaitingRule, ("A", true));
        Assert.True((await Run(file, Day1)).Success);

        Data(workspace, ("A", false));
        Assert.True((await Run(file, Day1.AddDays(1))).Success);

        Data(workspace, ("A", true));
        var again = await Run(file, Day1.AddDays(3));
        Assert.True(again.Success, Problems(again));
        var finding = Assert.Single(again.Plan!.Findings);
        Assert.Equal((FindingState.Waiting, Day1.AddDays(3), Day1.AddDays(6)), (finding.State, finding.PendingSince, finding.WaitingUntil));
        Assert.Empty(Lines(workspace));
    }

    [Fact]
    public async Task Evaluations_that_did_not_happen_do_not_break_a_hold()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, WaitingRule, ("A", true));
        Assert.True((await Run(file, Day1)).Success);

        // Nobody ran anything for ten days: nothing is known against the hold, so it counts from the first evaluation.
        var later = await Run(file, Day1.AddDays(10));
        Assert.True(later.Success, Problems(later));
        Assert.Equal(FindingState.Pending, Assert.Single(later.Plan!.Findings).State);
        Assert.Equal(["silent A"], Lines(workspace));
    }

    [Fact]
    public async Task A_customer_missing_from_the_data_or_failing_to_evaluate_ends_the_hold()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, WaitingRule.Replace("when: silent", "when: silent && 10 / divisor > 0", StringComparison.Ordinal), ("A", true), ("B", true));
        Assert.True((await Run(file, Day1)).Success);

        // A leaves the data; B's condition throws (divisor 0): neither is seen holding at this evaluation.
        workspace.Write("customers.csv", "id,silent,divisor\nB,true,0\n");
        var broken = await Run(file, Day1.AddDays(1));
        Assert.Single(broken.Plan!.Errors);

        Data(workspace, ("A", true), ("B", true));
        var plan = (await TestEngine.PlanAsync([file], Day1.AddDays(4))).Plan!;
        Assert.All(plan.Findings, f => Assert.Equal((FindingState.Waiting, Day1.AddDays(4)), (f.State, f.PendingSince!.Value)));
    }

    [Fact]
    public async Task On_resolve_runs_once_when_a_fired_condition_stops_holding_and_not_again()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, ResolvingRule, ("A", true), ("B", true));
        Assert.True((await Run(file, Day1)).Success);
        Assert.Equal(["task open A", "task open B"], Lines(workspace));

        // A is back in touch; B is still silent.
        Data(workspace, ("A", false), ("B", true));
        var plan = (await TestEngine.PlanAsync([file], Day1.AddDays(1))).Plan!;
        var resolution = Assert.Single(plan.Findings, f => f.IsResolution);
        Assert.Equal(("A", FindingState.Resolved, "A back in touch (reminded 02 Mar)", Day1), (resolution.Key, resolution.State, resolution.Message, resolution.Resolves!.Value));
        Assert.Equal((1, 1, 2), (plan.Summary.Findings, plan.Summary.Resolved, plan.Summary.Actions));
        var text = PlanWriter.WriteText(new PlanView(plan, workspace.Root));
        Assert.Contains("- A  A back in touch", text, StringComparison.Ordinal);
        Assert.Contains("resolved: the condition no longer holds (it held since 2026-03-02T09:00:00+00:00, the rule fired 2026-03-02T09:00:00+00:00)", text, StringComparison.Ordinal);
        Assert.Contains("1 resolved", text, StringComparison.Ordinal);
        Assert.Contains("### Resolved: the condition no longer holds (1)", PlanWriter.WriteMarkdown(new PlanView(plan, workspace.Root)), StringComparison.Ordinal);
        Assert.Contains("data-state=\"resolved\"", PlanWriter.WriteHtml(new PlanView(plan, workspace.Root)), StringComparison.Ordinal);

        var second = await Run(file, Day1.AddDays(1));
        Assert.True(second.Success, Problems(second));
        Assert.Equal(["task open A", "task open B", "task closed A", "task open B"], Lines(workspace));

        // Still back in touch the day after: the hold ended with the resolution, nothing runs again.
        var third = await Run(file, Day1.AddDays(2));
        Assert.DoesNotContain(third.Plan!.Findings, f => f.IsResolution);
        Assert.Equal(4 + 1, Lines(workspace).Count);

        // The resolution is not a firing: the rule's last firing for A is still the first day.
        Data(workspace, ("A", true), ("B", true));
        var again = (await TestEngine.PlanAsync([file], Day1.AddDays(3))).Plan!;
        Assert.Equal("A", again.Findings.First(f => f.State == FindingState.Pending).Key);
        var history = TestEngine.History([file], "p/silent", "A", failedOnly: false);
        Assert.Equal(2, history.Entries.Count); // the first day's action and the resolution's
    }

    [Fact]
    public async Task No_resolution_without_a_firing_in_the_hold_nor_for_a_customer_who_left_the_data()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, ResolvingRule + "\n    for: 5d\n", ("A", true), ("B", true), ("C", true));
        Assert.True((await Run(file, Day1)).Success);
        Assert.Empty(Lines(workspace)); // waiting: nothing fired

        Data(workspace, ("A", false), ("B", true), ("C", true));
        var plan = (await TestEngine.PlanAsync([file], Day1.AddDays(1))).Plan!;
        Assert.DoesNotContain(plan.Findings, f => f.IsResolution);

        Assert.True((await Run(file, Day1.AddDays(6))).Success);
        Assert.Equal(["task open B", "task open C"], Lines(workspace));

        // B leaves the data (churned, merged): there is no record to tell anyone it is back on track.
        Data(workspace, ("C", false));
        var after = (await TestEngine.PlanAsync([file], Day1.AddDays(7))).Plan!;
        Assert.Equal(["C"], after.Findings.Where(f => f.IsResolution).Select(f => f.Key));
    }

    [Fact]
    public async Task A_saved_plan_carries_resolutions_and_waiting_findings_and_run_plan_executes_what_it_shows()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, ResolvingRule, ("A", true));
        Assert.True((await Run(file, Day1)).Success);

        Data(workspace, ("A", false));
        var planned = await TestEngine.PlanAsync([file], Day1.AddDays(1), provenance: true);
        var json = PlanDocument.Write(planned.Plan!, workspace.Root);
        Assert.Contains("\"resolves\"", json, StringComparison.Ordinal);
        Assert.Contains("\"tracked\"", json, StringComparison.Ordinal);
        var read = PlanDocument.Read(System.Text.Json.JsonDocument.Parse(json).RootElement);
        Assert.Equal((Day1, Day1, 1), (read.Findings[0].Resolves, read.Findings[0].PendingSince, read.Summary.Resolved));
        Assert.Equal(["p/silent"], read.Tracked);

        var planFile = workspace.Write("plan.json", json);
        var applied = await TestEngine.ApplyAsync([file], planFile, new FixedTimeProvider(Day1.AddDays(1).AddMinutes(5)));
        Assert.True(applied.Success, Problems(applied));
        Assert.Equal(["task open A", "task closed A"], Lines(workspace));
        Assert.DoesNotContain((await TestEngine.PlanAsync([file], Day1.AddDays(2))).Plan!.Findings, f => f.IsResolution);
    }

    private static string Workspace(TempWorkspace workspace, string rules, params (string Id, bool Silent)[] customers)
    {
        Data(workspace, customers);
        workspace.Write("runner.yaml", "sources:\n  crm: { kind: csv, path: customers.csv, key: id, fields: { id: string, silent: bool, divisor: int } }\n");
        return workspace.Write("p.yaml", "playbook: p\nsource: crm\nrules:\n" + rules);
    }

    private static void Data(TempWorkspace workspace, params (string Id, bool Silent)[] customers) =>
        workspace.Write("customers.csv", "id,silent,divisor\n" + string.Concat(customers.Select(c => $"{c.Id},{(c.Silent ? "true" : "false")},1\n")));

    private static List<string> Lines(TempWorkspace workspace)
    {
        var path = Path.Combine(workspace.Root, "out.jsonl");
        return File.Exists(path) ? [.. File.ReadAllLines(path).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("body").GetString()!)] : [];
    }

    private static Task<RunResult> Run(string file, DateTimeOffset at) => TestEngine.RunAsync([file], at, new FixedTimeProvider(at));

    private static string Problems(RunResult result) =>
        string.Join("\n", result.Diagnostics.Select(d => d.Message).Concat(result.Plan?.Errors.Select(e => e.Message) ?? []));
}
