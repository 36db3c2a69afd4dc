using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Core.Tests.Planning;

/// <summary>
/// Computed values (<c>values:</c>): one expression per customer, used by segments, conditions, messages and actions, and
/// shown by the plan (JSON, text, Markdown, HTML) and by explain; a value that throws is an error of that customer only.
/// </summary>
public sealed class ValuesTests
{
    private static readonly DateTimeOffset AsOf = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private const string Playbook = """
        playbook: p
        source: crm
        values:
          last_contact: new[] { last_call, last_meeting }.Max()
          days_silent: 'last_contact == null ? 999 : DaysSince(last_contact.Value)'
          owner_first: owner.Split(' ')[0]
        segments:
          silent: days_silent > 20
        rules:
          - id: silent-key
            when: silent && revenue >= 500
            message: "{{ name }}: silent for {{ days_silent }} days"
            actions:
              - { type: file, path: out.jsonl, body: "{{ owner_first }}, call {{ name }} ({{ days_silent }} days)" }
        """;

    [Fact]
    public async Task Values_feed_segments_conditions_messages_and_actions_and_the_plan_shows_them_in_every_format()
    {
        using var workspace = Workspace(Playbook);
        var result = await TestEngine.PlanAsync([workspace.Root], AsOf);
        var plan = result.Plan!;
        Assert.Empty(plan.Errors);
        var finding = Assert.Single(plan.Findings);
        Assert.Equal(("A", "Acme: silent for 29 days"), (finding.Key, finding.Message));
        Assert.Equal("Ana, call Acme (29 days)", finding.Actions[0].Fields.Single(f => f.Name == "body").Text);
        Assert.Equal([("last_contact", "\"2026-02-01\""), ("days_silent", "29"), ("owner_first", "\"Ana\"")], finding.Values);

        var json = PlanDocument.Write(plan, workspace.Root);
        Assert.Contains("\"values\": {\n        \"last_contact\": \"2026-02-01\",\n        \"days_silent\": 29,\n        \"owner_first\": \"Ana\"\n      }", json, StringComparison.Ordinal);
        Assert.Equal(finding.Values, PlanDocument.Read(System.Text.Json.JsonDocument.Parse(json).RootElement).Findings.Single().Values);

        var view = new PlanView(plan, workspace.Root);
        var line = "last_contact = \"2026-02-01\", days_silent = 29, owner_first = \"Ana\"";
        Assert.Contains("      values: " + line + "\n", PlanWriter.WriteText(view), StringComparison.Ordinal);
        // Markdown: a plain paragraph, its punctuation escaped like every cell of data.
        Assert.Contains("Values: last\\_contact = ", PlanWriter.WriteMarkdown(view), StringComparison.Ordinal);
        Assert.Contains(", days\\_silent = 29, owner\\_first = ", PlanWriter.WriteMarkdown(view), StringComparison.Ordinal);
        Assert.Contains("<p class=\"values\">last_contact = &quot;2026-02-01&quot;, days_silent = 29, owner_first = &quot;Ana&quot;</p>", PlanWriter.WriteHtml(view), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Explain_shows_each_value_with_its_expression()
    {
        using var workspace = Workspace(Playbook);
        var explained = await TestEngine.ExplainAsync([workspace.Root], "silent-key", "B", AsOf);
        var e = explained.Explanation!;
        Assert.Equal(
            [("last_contact", "2026-02-25", "new[] { last_call, last_meeting }.Max()"), ("days_silent", "5", "last_contact == null ? 999 : DaysSince(last_contact.Value)"), ("owner_first", "\"Bo\"", "owner.Split(' ')[0]")],
            e.Values.Select(v => (v.Name, v.Value, v.Expression)));
        Assert.Equal("does not fire: the condition is false", e.Outcome);
        Assert.Equal("false", Assert.Single(e.Segments).Value);
    }

    [Fact]
    public async Task A_value_that_throws_for_one_customer_is_that_customers_error_and_the_others_are_planned()
    {
        using var workspace = Workspace(Playbook.Replace("owner.Split(' ')[0]", "owner.Split(' ')[1]", StringComparison.Ordinal));
        var plan = (await TestEngine.PlanAsync([workspace.Root], AsOf)).Plan!;
        // C's owner has one word: the value throws for C only; A still fires with the second word.
        var error = Assert.Single(plan.Errors);
        Assert.Equal("C", error.Key);
        Assert.Contains("value 'owner_first'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Index was outside the bounds of the array", error.Message, StringComparison.Ordinal);
        Assert.Equal("Lima, call Acme (29 days)", Assert.Single(plan.Findings).Actions[0].Fields.Single(f => f.Name == "body").Text);
    }

    private static TempWorkspace Workspace(string playbook)
    {
        var workspace = new TempWorkspace();
        workspace.Write("customers.csv", """
            id,name,owner,revenue,last_call,last_meeting
            A,Acme,Ana Lima,1000,2026-01-10,2026-02-01
            B,Beta,Bo Chen,800,2026-02-25,
            C,Gamma,Cy,50,,
            """);
        workspace.Write("runner.yaml", """
            sources:
              crm: { kind: csv, path: customers.csv, key: id, fields: { id: string, name: string, owner: string, revenue: decimal, last_call: date?, last_meeting: date? } }
            """);
        workspace.Write("p.yaml", playbook);
        return workspace;
    }
}
