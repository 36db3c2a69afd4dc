using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Core.Tests.Planning;

/// <summary>
/// Rollout throttles: a rule's (per run, per day, ordered by a field or computed value) and a channel's (critical findings
/// first); what is over is deferred with its place in the queue and goes out on later runs; <c>max_actions</c> stays the
/// hard stop. Against a real SQLite store, and a real SMTP server for a channel.
/// </summary>
public sealed class ThrottleTests
{
    private static readonly DateTimeOffset Day1 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private const string Customers = "id,revenue\nA,100\nB,500\nC,\nD,300\nE,900\n";

    private const string Survey = """
          - id: survey
            when: "true"
            cooldown: 30d
            throttle: { per_run: 2, per_day: 3, order_by: revenue desc }
            actions: [ { type: file, path: out.jsonl, body: "survey {{ id }}" } ]
        """;

    [Fact]
    public async Task The_highest_first_run_and_the_rest_are_deferred_with_their_place_in_the_queue()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, Survey);
        var plan = (await TestEngine.PlanAsync([file], Day1)).Plan!;

        Assert.Equal(
            [("A", 2), ("B", 0), ("C", 3), ("D", 1), ("E", 0)],
            plan.Findings.Select(f => (f.Key, f.Deferred?.Place ?? 0)));
        Assert.Equal(["B", "E"], plan.Findings.Where(f => f.IsPending).Select(f => f.Key));
        Assert.Equal((5, 2, 3), (plan.Summary.Findings, plan.Summary.Actions, plan.Summary.Deferred));
        var text = PlanWriter.WriteText(new PlanView(plan, workspace.Root));
        Assert.Contains("> D  survey\n      deferred by the rule throttle: number 1 in its queue, for a later run", text, StringComparison.Ordinal);
        Assert.EndsWith(", 3 deferred\n", text, StringComparison.Ordinal);
        var json = PlanDocument.Write(plan, workspace.Root);
        Assert.Contains("\"deferred\": {\n        \"place\": 1,\n        \"by\": \"rule\"\n      }", json.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Equal((1, "rule"), PlanDocument.Read(System.Text.Json.JsonDocument.Parse(json).RootElement).Findings.Single(f => f.Key == "D").Deferred);
        Assert.Contains("### Deferred by a rollout throttle (3)", PlanWriter.WriteMarkdown(new PlanView(plan, workspace.Root)), StringComparison.Ordinal);
        Assert.Contains("data-state=\"deferred\"", PlanWriter.WriteHtml(new PlanView(plan, workspace.Root)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Per_day_counts_the_days_earlier_runs_and_the_deferred_go_out_on_later_runs()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, Survey);

        Assert.True((await Run(file, Day1)).Success);
        Assert.Equal(["survey B", "survey E"], Lines(workspace)); // written in the plan's order (by key)

        // Same day, afternoon: per_day 3 leaves one.
        var afternoon = await Run(file, Day1.AddHours(5));
        Assert.True(afternoon.Success);
        Assert.Equal(["survey B", "survey E", "survey D"], Lines(workspace));
        Assert.Equal([("A", 1), ("C", 2)], afternoon.Plan!.Findings.Where(f => f.Deferred is not null).Select(f => (f.Key, f.Deferred!.Value.Place)));

        // The next day the rest go (the ones surveyed are held back by their cooldown, and take no place in the queue).
        var next = await Run(file, Day1.AddDays(1));
        Assert.True(next.Success);
        Assert.Equal(["survey B", "survey E", "survey D", "survey A", "survey C"], Lines(workspace));
        Assert.Equal(3, next.Plan!.Summary.HeldBack);
    }

    [Fact]
    public async Task Max_actions_stays_the_hard_stop_over_what_the_throttle_lets_through()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, Survey, "max_actions: 1\n");
        var run = await Run(file, Day1);
        Assert.False(run.Success);
        Assert.Contains(run.Diagnostics, d => d.Id == "PB5006" && d.Message == "Playbook 'p' would execute 2 actions, more than its max_actions of 1; nothing was executed");
        Assert.Empty(Lines(workspace));
    }

    [Fact]
    public async Task A_channel_throttle_lets_critical_findings_through_first_across_rules()
    {
        using var smtp = new SmtpServer();
        using var workspace = new TempWorkspace();
        workspace.Write("d.csv", Customers);
        workspace.Write("runner.yaml", $$"""
            sources:
              crm: { kind: csv, path: d.csv, key: id, fields: { id: string, revenue: int? } }
            channels:
              default: { kind: smtp, host: 127.0.0.1, port: {{smtp.Port}}, from: cs@example.com, tls: none, throttle: { per_run: 3 } }
            """);
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: crm
            rules:
              - id: newsletter
                severity: info
                when: "true"
                actions: [ { type: email, to: "news-{{ id }}@example.com", subject: News, body: News } ]
              - id: at-risk
                severity: critical
                when: revenue != null && revenue >= 300
                actions: [ { type: email, to: "owner-{{ id }}@example.com", subject: Risk, body: Risk } ]
            """);
        var run = await Run(file, Day1);
        Assert.True(run.Success, string.Join("\n", run.Diagnostics.Select(d => d.Message)));
        var sent = smtp.Envelopes().Select(e => e.Split('\n')[1]).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["RCPT TO: owner-B@example.com", "RCPT TO: owner-D@example.com", "RCPT TO: owner-E@example.com"], sent);
        Assert.All(run.Plan!.Findings.Where(f => f.Rule == "newsletter"), f => Assert.Equal("channel default", f.Deferred!.Value.By));
        Assert.Equal([1, 2, 3, 4, 5], run.Plan.Findings.Where(f => f.Rule == "newsletter").Select(f => f.Deferred!.Value.Place).Order());
    }

    [Fact]
    public void An_order_by_that_is_not_a_field_nor_a_value_is_PB1044_with_a_suggestion()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, Survey.Replace("revenue desc", "revenu desc", StringComparison.Ordinal));
        var error = Assert.Single(TestEngine.Validate([file]).Diagnostics, d => d.IsError);
        Assert.Equal("PB1044", error.Id);
        Assert.Contains("order_by 'revenu' of rule 'survey' is not a field of source 'crm' nor a computed value; did you mean 'revenue'?", error.Message, StringComparison.Ordinal);
    }

    private static string Workspace(TempWorkspace workspace, string rules, string extra = "")
    {
        workspace.Write("d.csv", Customers);
        workspace.Write("runner.yaml", "sources:\n  crm: { kind: csv, path: d.csv, key: id, fields: { id: string, revenue: int? } }\n");
        return workspace.Write("p.yaml", "playbook: p\nsource: crm\n" + extra + "rules:\n" + rules);
    }

    private static List<string> Lines(TempWorkspace workspace)
    {
        var path = Path.Combine(workspace.Root, "out.jsonl");
        return File.Exists(path) ? [.. File.ReadAllLines(path).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("body").GetString()!)] : [];
    }

    private static Task<RunResult> Run(string file, DateTimeOffset at) => TestEngine.RunAsync([file], at, new FixedTimeProvider(at));
}
