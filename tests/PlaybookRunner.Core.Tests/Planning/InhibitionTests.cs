using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Core.Tests.Planning;

/// <summary>
/// <c>inhibits:</c>: while a rule holds for a customer, the rules it names are inhibited for that customer (shown, not
/// run), whichever comes first in the file; a rule turned off by severity_overrides inhibits nothing.
/// </summary>
public sealed class InhibitionTests
{
    private static readonly DateTimeOffset AsOf = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private const string Rules = """
          - id: remind
            when: silent_days > 30
            message: "remind {{ id }}"
            actions: [ { type: file, path: o.jsonl, body: "remind {{ id }}" } ]
          - id: escalate
            inhibits: [remind]
            when: silent_days > 37
            message: "escalate {{ id }}"
            actions: [ { type: file, path: o.jsonl, body: "escalate {{ id }}" } ]
        """;

    [Fact]
    public async Task The_escalation_silences_the_reminder_for_its_customers_only_in_every_format_and_in_run()
    {
        using var workspace = Workspace(Rules, "");
        var plan = (await TestEngine.PlanAsync([workspace.Root], AsOf)).Plan!;
        Assert.Equal(
            [("remind", "A", FindingState.Inhibited, "escalate"), ("remind", "B", FindingState.Pending, null), ("escalate", "A", FindingState.Pending, null)],
            plan.Findings.Select(f => (f.Rule, f.Key, f.State, f.InhibitedBy)));
        Assert.Equal((2, 1), (plan.Summary.Actions, plan.Summary.Inhibited));

        var json = PlanDocument.Write(plan, workspace.Root);
        Assert.Contains("\"inhibitedBy\": \"escalate\"", json, StringComparison.Ordinal);
        Assert.Contains("\"inhibited\": 1", json, StringComparison.Ordinal);
        var read = PlanDocument.Read(System.Text.Json.JsonDocument.Parse(json).RootElement);
        Assert.Equal(plan.Findings.Select(f => f.State), read.Findings.Select(f => f.State));

        var view = new PlanView(plan, workspace.Root);
        var text = PlanWriter.WriteText(view);
        Assert.Contains("  ^ A  remind A\n      inhibited by escalate, which fires for this customer\n      (not run) ", text, StringComparison.Ordinal);
        Assert.EndsWith("0 errors, 1 inhibited\n", text, StringComparison.Ordinal);
        Assert.Contains("### Inhibited by another rule (1)", PlanWriter.WriteMarkdown(view), StringComparison.Ordinal);
        Assert.Contains("Inhibited by escalate, which fires for this customer. No action runs.", PlanWriter.WriteHtml(view), StringComparison.Ordinal);

        var explained = await TestEngine.ExplainAsync([workspace.Root], "remind", "A", AsOf);
        Assert.Equal("the condition holds, but rule 'escalate' holds for this customer too and inhibits it: no action runs", explained.Explanation!.Outcome);

        var run = await TestEngine.RunAsync([workspace.Root], AsOf, new FixedTimeProvider(AsOf));
        Assert.True(run.Success, string.Join("\n", run.Diagnostics.Select(d => d.Message)));
        Assert.Equal(["remind B", "escalate A"], File.ReadLines(Path.Combine(workspace.Root, "o.jsonl")).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("body").GetString()));
    }

    [Fact]
    public async Task A_rule_turned_off_by_severity_overrides_inhibits_nothing()
    {
        using var workspace = Workspace(Rules, "severity_overrides:\n  p/escalate: none\n");
        var plan = (await TestEngine.PlanAsync([workspace.Root], AsOf)).Plan!;
        Assert.Equal([("remind", "A", FindingState.Pending), ("remind", "B", FindingState.Pending)], plan.Findings.Select(f => (f.Rule, f.Key, f.State)));
        Assert.Equal(0, plan.Summary.Inhibited);
    }

    private static TempWorkspace Workspace(string rules, string runner)
    {
        var workspace = new TempWorkspace();
        workspace.Write("customers.csv", "id,silent_days\nA,40\nB,33\nC,3\n");
        workspace.Write("runner.yaml", "sources:\n  crm: { kind: csv, path: customers.csv, key: id, fields: { id: string, silent_days: int } }\n" + runner);
        workspace.Write("p.yaml", "playbook: p\nsource: crm\nrules:\n" + rules);
        return workspace;
    }
}
