namespace PlaybookRunner.Core.Tests.Planning;

/// <summary>
/// History in templates, read from a real SQLite store: <c>last_fired</c> and <c>last_delivered</c> of the finding's own
/// rule, <c>last_fired_of</c> and <c>last_delivered_of</c> another rule's, for the finding's customer.
/// </summary>
public sealed class HistoryTemplateTests
{
    private static readonly DateTimeOffset Day1 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task An_escalation_says_when_the_reminder_fired_and_was_delivered_and_a_rule_its_own_last_firing()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, """
              - id: remind
                when: "true"
                cooldown: 30d
                actions: [ { type: file, path: o.jsonl, body: "remind {{ id }}" } ]
              - id: escalate
                when: LastFired("remind") != null && DaysSince(LastFired("remind")) >= 7
                message: "{{ id }}: reminded {{ last_fired_of 'remind' | date.to_string '%d %b' }}, delivered {{ last_delivered_of 'remind' | date.to_string '%d %b' }}; escalated before: {{ last_fired ?? 'never' }}"
              - id: again
                when: "true"
                message: "{{ id }}: this rule last fired {{ last_fired | date.to_string '%d %b' }}, delivered {{ last_delivered | date.to_string '%d %b' }}"
                actions: [ { type: file, path: o.jsonl, body: "again {{ id }}" } ]
            """);
        var first = await TestEngine.RunAsync([file], Day1, new FixedTimeProvider(Day1));
        Assert.True(first.Success, string.Join("\n", first.Diagnostics.Select(d => d.Message)));

        var week = Day1.AddDays(8);
        var plan = (await TestEngine.PlanAsync([file], week)).Plan!;
        Assert.Empty(plan.Errors);
        Assert.Equal("A: reminded 02 Mar, delivered 02 Mar; escalated before: never", plan.Findings.Single(f => f.Rule == "escalate").Message);
        Assert.Equal("A: this rule last fired 02 Mar, delivered 02 Mar", plan.Findings.Single(f => f.Rule == "again").Message);
    }

    [Fact]
    public async Task A_rule_the_playbook_does_not_have_is_a_plan_error_naming_its_rules()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, """
              - id: remind
                when: "true"
              - id: escalate
                when: "true"
                message: "reminded {{ last_fired_of 'remnd' }}"
            """);
        var plan = (await TestEngine.PlanAsync([file], Day1)).Plan!;
        var error = Assert.Single(plan.Errors);
        Assert.Equal(("PB5002", "escalate"), (error.Id, error.Rule));
        Assert.Contains("'remnd' is not a rule of playbook 'p' (its rules: remind, escalate)", error.Message, StringComparison.Ordinal);
    }

    private static string Workspace(TempWorkspace workspace, string rules)
    {
        workspace.Write("customers.csv", "id\nA\n");
        workspace.Write("runner.yaml", "sources:\n  crm: { kind: csv, path: customers.csv, key: id, fields: { id: string } }\n");
        return workspace.Write("p.yaml", "playbook: p\nsource: crm\nrules:\n" + rules);
    }
}
