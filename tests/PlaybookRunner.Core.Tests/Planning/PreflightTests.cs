using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Core.Tests.Planning;

/// <summary>
/// What run would certainly fail on is an error in plan (docs/execution.md, "Preflight"), located at the
/// template or channel, with the keys counted; and in validate where no data is needed.
/// </summary>
public sealed class PreflightTests
{
    private static readonly DateTimeOffset AsOf = DateTimeOffset.UnixEpoch;

    [Fact]
    public void Each_finding_gets_its_own_verdict_whether_its_text_repeats_or_is_new_past_the_thousand_remembered()
    {
        // Preflight remembers the verdict on each distinct text of a field (PreflightChecks): repeated texts (a team's
        // address, a subject; good or bad) and 1,500 distinct ones (a customer's own, past the 1,024 remembered) are judged alike.
        using var workspace = new TempWorkspace();
        var csv = new System.Text.StringBuilder("id,team,own,note\n");
        for (var i = 0; i < 1500; i++)
        {
            var team = i % 3 == 0 ? "bad team" : "cs";
            var own = i % 10 == 0 ? $"c{i}@x.com, evil@y.com" : $"c{i}@x.com";
            var note = i % 7 == 0 ? "call\nnow" : "call now";
            csv.Append(System.Globalization.CultureInfo.InvariantCulture, $"C{i:D4},{team},\"{own}\",\"{note}\"\n");
        }

        workspace.Write("d.csv", csv.ToString());
        workspace.Write("runner.yaml", "channels:\n  default: { kind: smtp, host: 127.0.0.1, from: cs@example.com }\n");
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, team: string, own: string, note: string } }
            rules:
              - id: team
                when: "true"
                actions:
                  - { type: email, to: "{{ team }}@example.com", subject: s, body: b }
              - id: own
                when: "true"
                actions:
                  - { type: email, to: "{{ own }}", subject: s, body: b }
              - id: note
                when: "true"
                actions:
                  - { type: email, to: cs@example.com, subject: "{{ note }}", body: b }
            """);

        var result = TestEngine.Plan([file], AsOf);

        Assert.True(result.Plan is not null, string.Join("\n", result.Diagnostics.Select(d => d.Message)));
        int Refused(string rule) => result.Plan!.Errors.Count(e => e.Id == "PB5002" && e.Rule == rule);
        Assert.Equal(500, Refused("team"));
        Assert.Equal(150, Refused("own"));
        Assert.Equal(215, Refused("note"));
        Assert.Equal(1000 + 1350 + 1285, result.Plan!.Findings.Count);
    }

    [Fact]
    public void An_unset_secret_of_a_channel_that_pending_actions_need_is_one_plan_error_with_the_actions_counted()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("d.csv", "id,n\nA,5\nB,6\nC,7\nD,1\n");
        workspace.Write("runner.yaml", """
            channels:
              hook: { kind: webhook, url: "http://127.0.0.1:9/x", headers: { Authorization: "Bearer ${env:PB_PREFLIGHT_UNSET_TOKEN}" } }
              spare: { kind: webhook, url: "http://127.0.0.1:9/y", headers: { Authorization: "Bearer ${env:PB_PREFLIGHT_OTHER_UNSET}" } }
            """);
        workspace.Write("suppressions.yaml", "suppressions:\n  - { rule: p/r, key: C, justification: on hold }\n");
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }
            rules:
              - id: r
                when: n > 3
                actions:
                  - { type: webhook, channel: hook, body: "{}" }
            """);

        var result = TestEngine.Plan([file], AsOf);

        Assert.NotNull(result.Plan);
        var error = Assert.Single(result.Plan!.Diagnostics, d => d.IsError);
        Assert.Equal(("PB5010", 2), (error.Id, error.Location.Line));
        Assert.EndsWith("runner.yaml", error.Location.Path, StringComparison.Ordinal);
        Assert.Equal("Channel 'hook' needs the environment variable PB_PREFLIGHT_UNSET_TOKEN, which is not set (or not allowed): 2 pending action(s) would fail", error.Message);
        Assert.Contains(result.Diagnostics, d => d.Id == "PB5010");
    }

    [Fact]
    public void A_set_secret_and_a_channel_no_pending_action_needs_are_no_error()
    {
        using var workspace = new TempWorkspace();
        Environment.SetEnvironmentVariable("PB_PREFLIGHT_SET_TOKEN", "placeholder");
        try
        {
            workspace.Write("d.csv", "id,n\nA,5\n");
            workspace.Write("runner.yaml", """
                channels:
                  hook: { kind: webhook, url: "http://127.0.0.1:9/x", headers: { Authorization: "Bearer ${env:PB_PREFLIGHT_SET_TOKEN}" } }
                  unused: { kind: webhook, url: "http://127.0.0.1:9/y", headers: { Authorization: "Bearer ${env:PB_PREFLIGHT_NEVER_SET}" } }
                """);
            var file = workspace.Write("p.yaml", """
                playbook: p
                source: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }
                rules:
                  - id: r
                    when: n > 3
                    actions:
                      - { type: webhook, channel: hook, body: "{}" }
                """);

            var result = TestEngine.Plan([file], AsOf);

            Assert.True(result.Success, string.Join('\n', result.Diagnostics.Select(d => d.Message)));
        }
        finally
        {
            Environment.SetEnvironmentVariable("PB_PREFLIGHT_SET_TOKEN", null);
        }
    }

    [Fact]
    public void Recipients_that_render_empty_or_as_no_address_are_reported_once_per_template_with_the_keys_counted()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("d.csv", "id,email\nA,\nB,\nC,not-an-address\nD,d@example.com\n");
        workspace.Write("runner.yaml", "channels:\n  default: { kind: smtp, host: 127.0.0.1, from: cs@example.com }\n");
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, email: string? } }
            rules:
              - id: r
                when: "true"
                actions:
                  - { type: email, to: "{{ email }}", subject: Hi, body: Hello }
            """);

        var result = TestEngine.Plan([file], AsOf);
        Assert.True(result.Plan is not null, string.Join('\n', result.Diagnostics.Select(d => d.Message)));
        var plan = result.Plan;

        Assert.Equal(["D"], plan.Findings.Select(f => f.Key));
        Assert.Equal(["A", "B", "C"], plan.Errors.Select(e => e.Key));
        var group = Assert.Single(PlanErrorGroup.Of(plan.Errors));
        Assert.Equal(7, group.Location.Line);
        Assert.Equal(["A", "B", "C"], group.Keys);
        var lines = PlanWriter.ErrorLines(plan.Errors, workspace.Root, "playbook: ").ToList();
        Assert.Equal(["p.yaml(7,28): error PB5002: rule 'r': email action 'to' renders something that is not one email address (empty, or not an address) (3 keys: A, B, C)"], lines);
        Assert.Contains("(3 keys: A, B, C)", PlanWriter.WriteText(new PlanView(plan, workspace.Root)), StringComparison.Ordinal);
        Assert.Contains("(3 keys: A, B, C)", PlanWriter.WriteMarkdown(new PlanView(plan, workspace.Root)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{ type: webhook, url: \"http://127.0.0.1:9/x\", body: \"{not json\" }", "The webhook body is not valid JSON")]
    [InlineData("{ type: webhook, url: \"ftp://127.0.0.1/x\", body: \"{}\" }", "'ftp://127.0.0.1/x' is not an absolute http or https URL")]
    [InlineData("{ type: webhook, url: \"/relative\", body: \"{}\" }", "'/relative' is not an absolute http or https URL")]
    [InlineData("{ type: email, to: \"owner\", subject: s, body: b }", "'to': 'owner' is not one email address")]
    [InlineData("{ type: email, to: \"a@example.com,\", subject: s, body: b }", "'to': '' is not one email address")]
    public void A_field_without_template_values_is_checked_at_validate(string action, string message)
    {
        using var workspace = new TempWorkspace();
        workspace.Write("runner.yaml", "channels:\n  default: { kind: smtp, host: 127.0.0.1, from: cs@example.com }\n");
        var file = workspace.Write("p.yaml", $"""
            playbook: p
            source: {"{"} kind: csv, path: d.csv, key: id, fields: {"{"} id: string {"}"} {"}"}
            rules:
              - id: r
                when: "true"
                actions:
                  - {action}
            """);

        var diagnostic = Assert.Single(TestEngine.Validate([file]).Diagnostics, d => d.IsError);
        Assert.Equal(("PB3006", 7), (diagnostic.Id, diagnostic.Location.Line));
        Assert.StartsWith(message, diagnostic.Message, StringComparison.Ordinal);
    }
}
