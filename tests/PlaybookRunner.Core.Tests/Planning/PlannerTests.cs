using PlaybookRunner.Core;
using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Core.Tests.Planning;

public sealed class PlannerTests
{
    private static PlanResult Plan(TempWorkspace workspace, string playbook, string? runner = null)
    {
        workspace.Write("data.csv", "id,name,email\nA,Fenwick & <Hale>,a@example.com\nB,\"Quote \"\"Q\"\"\",b@example.com\n");
        if (runner is not null)
        {
            workspace.Write("runner.yaml", runner);
        }

        var file = workspace.Write("p.yaml", playbook);
        return TestEngine.Plan([file], DateTimeOffset.UnixEpoch);
    }

    private const string Runner = """
        sources:
          crm: { kind: csv, path: data.csv, key: id, fields: { id: string, name: string, email: string } }
        channels:
          default: { kind: smtp, host: 127.0.0.1, from: cs@example.com }
          tasks: { kind: webhook, url: "http://127.0.0.1:9/x" }
        severity_overrides:
          p/quiet: none
          p/loud: critical
        """;

    [Fact]
    public void Html_email_bodies_escape_field_values_but_not_markup()
    {
        using var workspace = new TempWorkspace();
        var result = Plan(workspace, """
            playbook: p
            source: crm
            rules:
              - id: r
                when: id == "A"
                actions:
                  - type: email
                    to: "{{ email }}"
                    subject: "About {{ name }}"
                    html: true
                    body: "<p>{{ name }}</p><p>{{ name | html_escape }}</p>"
            """, Runner);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics.Select(d => d.Message)));
        Assert.Empty(result.Plan!.Errors.Select(e => e.Message));
        var action = Assert.Single(Assert.Single(result.Plan!.Findings).Actions);
        Assert.Equal("<p>Fenwick &amp; &lt;Hale&gt;</p><p>Fenwick &amp; &lt;Hale&gt;</p>", action.Fields.Single(f => f.Name == "body").Text);
        Assert.Equal("About Fenwick & <Hale>", action.Fields.Single(f => f.Name == "subject").Text);
        Assert.True(action.Fields.Single(f => f.Name == "html").Flag);
    }

    [Fact]
    public void Webhook_bodies_must_be_json_after_rendering()
    {
        using var workspace = new TempWorkspace();
        var result = Plan(workspace, """
            playbook: p
            source: crm
            rules:
              - id: r
                when: "true"
                actions:
                  - type: webhook
                    channel: tasks
                    body: '{"name": {{ name | raw }}}'
            """, Runner);
        Assert.NotNull(result.Plan);
        Assert.Empty(result.Plan!.Findings);
        Assert.Equal(["A", "B"], result.Plan.Errors.Select(e => e.Key));
        var error = result.Plan.Errors[1];
        Assert.Equal(("PB5002", "r", "B"), (error.Id, error.Rule, error.Key));
        Assert.StartsWith("Template of rule 'r' failed for key 'B': webhook action 'body' is not valid JSON after rendering", error.Message, StringComparison.Ordinal);

        // Reported once, at the body's template, with the keys counted (preflight).
        var group = Assert.Single(PlanErrorGroup.Of(result.Plan.Errors));
        Assert.Equal((9, 15), (group.Location.Line, group.Location.Column));
        Assert.Equal("rule 'r': webhook action 'body' is not valid JSON after rendering", group.Problem);
        Assert.EndsWith("error PB5002: rule 'r': webhook action 'body' is not valid JSON after rendering (2 keys: A, B)", group.Format(workspace.Root), StringComparison.Ordinal);
    }

    [Fact]
    public void Json_escape_makes_webhook_bodies_safe()
    {
        using var workspace = new TempWorkspace();
        var result = Plan(workspace, """
            playbook: p
            source: crm
            rules:
              - id: r
                when: "true"
                actions:
                  - type: webhook
                    channel: tasks
                    body: '{"name": "{{ name | json_escape }}"}'
            """, Runner);
        Assert.True(result.Success);
        Assert.Equal("{\"name\": \"Quote \\\"Q\\\"\"}", result.Plan!.Findings[1].Actions[0].Fields.Single(f => f.Name == "body").Text);
    }

    [Fact]
    public void Severity_overrides_change_or_silence_rules()
    {
        using var workspace = new TempWorkspace();
        var result = Plan(workspace, """
            playbook: p
            source: crm
            rules:
              - { id: quiet, when: "true" }
              - { id: loud, when: id == "A", severity: info }
            """, Runner);
        Assert.True(result.Success);
        var finding = Assert.Single(result.Plan!.Findings);
        Assert.Equal(("loud", Core.Model.Severity.Critical), (finding.Rule, finding.Severity));
    }

    [Fact]
    public void A_template_that_throws_fails_only_its_finding()
    {
        using var workspace = new TempWorkspace();
        var result = Plan(workspace, """
            playbook: p
            source: crm
            rules:
              - id: r
                when: "true"
                message: "{{ if id == 'A' }}{{ 1.5 | math.round 40 }}{{ else }}fine{{ end }}"
              - id: untitled
                when: id == "B"
            """, Runner);
        Assert.NotNull(result.Plan);
        Assert.Equal([("r", "B", "fine"), ("untitled", "B", "untitled")], result.Plan!.Findings.Select(f => (f.Rule, f.Key, f.Message)));
        Assert.Equal(("PB5002", "A"), (Assert.Single(result.Plan.Errors).Id, result.Plan.Errors[0].Key));
    }

    [Fact]
    public void Half_an_emoji_cannot_break_the_json_plan()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("runner.yaml", Runner);
        workspace.Write("data.csv", "id,name,email\nA,\U0001F600 Smile,a@example.com\n".Replace("\\U0001F600", "\U0001F600", StringComparison.Ordinal));
        var file = workspace.Write("p.yaml", "playbook: p\nsource: crm\nrules:\n  - { id: r, when: \"true\", message: \"{{ name | string.slice 0 1 }}\" }\n");
        var result = TestEngine.Plan([file], DateTimeOffset.UnixEpoch);
        Assert.Equal("\uFFFD", Assert.Single(result.Plan!.Findings).Message);
        Assert.Contains("\"message\": \"\uFFFD\"", PlanDocument.Write(result.Plan, workspace.Root), StringComparison.Ordinal);
    }

    [Fact]
    public void Render_limits_stop_runaway_templates()
    {
        using var workspace = new TempWorkspace();
        var result = Plan(workspace, """
            playbook: p
            source: crm
            rules:
              - id: r
                when: id == "A"
                message: "{{ for i in 1..100000 }}x{{ end }}"
            """, Runner);
        Assert.NotNull(result.Plan);
        Assert.Empty(result.Plan!.Findings);
        Assert.Equal("PB5002", Assert.Single(result.Plan.Errors).Id);
    }
}
