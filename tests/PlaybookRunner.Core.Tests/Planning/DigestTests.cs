using MimeKit;
using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Core.Tests.Planning;

/// <summary>
/// Digests (runner.yaml <c>digests:</c>): the findings of rules in two playbooks that join one are grouped by owner, and one
/// email per owner lists them, through a real SMTP server; the plan shows each digest and each finding's membership; the
/// findings' firings are recorded (their cooldowns run); a saved plan's digest must be what the workspace renders; a
/// playbook test asserts a digest's body; and the mistakes are located.
/// </summary>
public sealed class DigestTests
{
    private static readonly DateTimeOffset Day1 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private static string Runner(int port) => $$$"""
        sources:
          crm: { kind: csv, path: d.csv, key: id, fields: { id: string, name: string, owner: string, revenue: int } }
        channels:
          default: { kind: smtp, host: 127.0.0.1, port: {{{port}}}, from: cs@example.com, tls: none }
        digests:
          owner-weekly:
            group_by: "{{ owner }}"
            action:
              type: email
              to: "{{ group }}"
              subject: "{{ findings.size }} accounts need you this week"
              body: "{{ for f in findings }}- {{ f.fields.name }} ({{ f.title }}): {{ f.message }}\n{{ end }}"
        """;

    private const string Data = "id,name,owner,revenue\nA,Acme,ann@example.com,900\nB,Beta & Co,bob@example.com,50\nC,Castor,ann@example.com,300\n";

    private static void Workspace(TempWorkspace workspace, int port)
    {
        workspace.Write("d.csv", Data);
        workspace.Write("runner.yaml", Runner(port));
        workspace.Write("care.yaml", """
            playbook: care
            source: crm
            rules:
              - id: review
                title: Business review due
                when: revenue >= 300
                cooldown: 30d
                message: "{{ name }}: review due"
                digests: [owner-weekly]
            """);
        workspace.Write("nps.yaml", """
            playbook: nps
            source: crm
            rules:
              - id: check-in
                title: Check in
                when: "true"
                cooldown: 30d
                message: "{{ name }}: check in"
                digests: [owner-weekly]
            """);
    }

    [Fact]
    public async Task One_email_per_owner_lists_their_findings_across_playbooks_and_the_findings_cooldowns_run()
    {
        using var smtp = new SmtpServer();
        using var workspace = new TempWorkspace();
        Workspace(workspace, smtp.Port);

        var plan = (await TestEngine.PlanAsync([workspace.Root], Day1)).Plan!;
        Assert.Empty(plan.Errors);
        Assert.Equal([("owner-weekly", "ann@example.com", 4), ("owner-weekly", "bob@example.com", 1)], plan.Digests.Select(d => (d.Name, d.Group, d.Findings.Count)));
        Assert.Equal((5, 2, 2), (plan.Summary.Findings, plan.Summary.Actions, plan.Summary.Digests));
        Assert.All(plan.Findings, f => Assert.Single(f.Digests));
        var text = PlanWriter.WriteText(new PlanView(plan, workspace.Root));
        Assert.Contains("digest owner-weekly for ann@example.com: 4 findings\n  * care/review A, care/review C, nps/check-in A, nps/check-in C\n      email to ann@example.com: \"4 accounts need you this week\"", text, StringComparison.Ordinal);
        Assert.Contains("      in digest owner-weekly for bob@example.com\n", text, StringComparison.Ordinal);
        var json = PlanDocument.Write(plan, workspace.Root);
        var read = PlanDocument.Read(System.Text.Json.JsonDocument.Parse(json).RootElement);
        Assert.Equal(plan.Digests.Select(d => (d.Name, d.Group, d.Findings.Count, d.Action.Fields.Count)), read.Digests.Select(d => (d.Name, d.Group, d.Findings.Count, d.Action.Fields.Count)));
        Assert.Equal(("owner-weekly", "bob@example.com"), read.Findings.Single(f => f.Key == "B").Digests.Single());
        Assert.Contains("### Digests (2)", PlanWriter.WriteMarkdown(new PlanView(plan, workspace.Root)), StringComparison.Ordinal);
        Assert.Contains("data-digest=\"owner-weekly\" data-group=\"ann@example.com\"", PlanWriter.WriteHtml(new PlanView(plan, workspace.Root)), StringComparison.Ordinal);

        var run = await TestEngine.RunAsync([workspace.Root], Day1, new FixedTimeProvider(Day1));
        Assert.True(run.Success, string.Join("\n", run.Diagnostics.Select(d => d.Message)));
        var messages = smtp.Messages().Select(m => MimeMessage.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(m)))).OrderBy(m => m.To.ToString(), StringComparer.Ordinal).ToList();
        Assert.Equal(["ann@example.com", "bob@example.com"], messages.Select(m => m.To.Mailboxes.Single().Address));
        Assert.Equal("- Acme (Business review due): Acme: review due\n- Castor (Business review due): Castor: review due\n- Acme (Check in): Acme: check in\n- Castor (Check in): Castor: check in",
            messages[0].TextBody!.Trim().ReplaceLineEndings("\n"));
        Assert.Equal("- Beta & Co (Check in): Beta & Co: check in", messages[1].TextBody!.Trim());

        // The findings fired: their cooldowns hold them back, so no digest goes out the next day.
        var next = (await TestEngine.PlanAsync([workspace.Root], Day1.AddDays(1))).Plan!;
        Assert.Empty(next.Digests);
        Assert.Equal(5, next.Summary.HeldBack);
    }

    [Fact]
    public async Task A_saved_plan_whose_digest_was_edited_is_refused()
    {
        using var smtp = new SmtpServer();
        using var workspace = new TempWorkspace();
        Workspace(workspace, smtp.Port);
        var json = PlanDocument.Write((await TestEngine.PlanAsync([workspace.Root], Day1, provenance: true)).Plan!, workspace.Root);
        var forged = workspace.Write("forged.json", json.Replace("\"to\": \"bob@example.com\"", "\"to\": \"mallory@example.com\"", StringComparison.Ordinal));
        Assert.NotEqual(json, File.ReadAllText(forged));
        var applied = await TestEngine.ApplyAsync([workspace.Root], forged, new FixedTimeProvider(Day1));
        var error = Assert.Single(applied.Diagnostics, d => d.IsError);
        Assert.Equal("PB1037", error.Id);
        Assert.Contains("digest owner-weekly bob@example.com", error.Message, StringComparison.Ordinal);
        Assert.Empty(smtp.Messages());

        var saved = workspace.Write("plan.json", json);
        Assert.True((await TestEngine.ApplyAsync([workspace.Root], saved, new FixedTimeProvider(Day1))).Success);
        Assert.Equal(2, smtp.Messages().Count);
    }

    [Fact]
    public async Task A_playbook_test_asserts_a_digests_keys_and_body_and_says_what_differs()
    {
        using var workspace = new TempWorkspace();
        Workspace(workspace, 2525);
        workspace.Write("care.test.yaml", """
            tests:
              - name: owners get one digest
                playbook: care
                as_of: 2026-03-02T09:00:00Z
                records:
                  - { id: A, name: Acme, owner: ann@example.com, revenue: 900 }
                  - { id: C, name: Castor, owner: ann@example.com, revenue: 300 }
                expect:
                  - { rule: review, key: A, fires: true }
                digests:
                  - { digest: owner-weekly, group: ann@example.com, keys: [A, C],
                      actions: [ { type: email, subject: "2 accounts need you this week", body_contains: "- Castor (Business review due)" } ] }
                  - { digest: owner-weekly, group: bob@example.com }
                  - { digest: owner-weekly, group: ann@example.com, keys: [C] }
            """);
        var result = await TestEngine.TestAsync([workspace.Root]);
        Assert.Equal(
            [
                "Test 'owners get one digest': digest owner-weekly for bob@example.com: expected its action, but there is none (its groups: ann@example.com)",
                "Test 'owners get one digest': digest owner-weekly for ann@example.com: expected it to list C, but it lists A, C",
            ],
            result.Tests.Single().Failures.Select(f => f.Message));
    }

    [Fact]
    public void An_unknown_digest_and_a_group_by_naming_what_a_playbook_does_not_have_are_located()
    {
        using var workspace = new TempWorkspace();
        Workspace(workspace, 2525);
        workspace.Write("care.yaml", """
            playbook: care
            source: crm
            rules:
              - id: review
                when: "true"
                digests: [owner-weekley]
            """);
        workspace.Write("runner.yaml", Runner(2525).Replace("\"{{ owner }}\"", "\"{{ ownr }}\"", StringComparison.Ordinal));
        var errors = TestEngine.Validate([workspace.Root]).Diagnostics.Where(d => d.IsError).ToList();
        Assert.Contains(errors, e => e.Id == "PB1045" && e.Message == "Rule 'review' joins digest 'owner-weekley', which runner.yaml does not define (digests: owner-weekly); did you mean 'owner-weekly'?"
            && e.Location.Line == 6);
        Assert.Contains(errors, e => e.Id == "PB3002" && e.Location.Path.EndsWith("runner.yaml", StringComparison.Ordinal) && e.Message.Contains("'ownr'", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("ann@example.com, evil@example.com")]
    [InlineData("ann@example.com; evil@example.com")]
    [InlineData("\"Ann, Lee\" <ann@example.com>")]
    [InlineData("ann@example.com\r\nBcc: evil@example.com")]
    [InlineData("not an address")]
    public async Task A_group_from_the_data_cannot_add_recipients_to_its_digest(string owner)
    {
        using var smtp = new SmtpServer();
        using var workspace = new TempWorkspace();
        Workspace(workspace, smtp.Port);
        workspace.Write("d.csv", $"id,name,owner,revenue\nA,Acme,\"{owner.Replace("\"", "\"\"", StringComparison.Ordinal)}\",900\nB,Beta,bob@example.com,50\n");
        var run = await TestEngine.RunAsync([workspace.Root], Day1, new FixedTimeProvider(Day1));

        // The hostile group's digest is a plan error, nothing of it is sent; the clean group's goes out alone.
        Assert.Contains(run.Plan!.Errors, e => e.Id == "PB5002" && e.Rule == "owner-weekly");
        Assert.Equal(["MAIL FROM: cs@example.com", "RCPT TO: bob@example.com"], Assert.Single(smtp.Envelopes()).TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task A_group_by_that_renders_nothing_is_that_findings_plan_error()
    {
        using var workspace = new TempWorkspace();
        Workspace(workspace, 2525);
        workspace.Write("d.csv", "id,name,owner,revenue\nA,Acme,,900\nC,Castor,ann@example.com,300\n");
        workspace.Write("runner.yaml", Runner(2525).Replace("owner: string", "owner: string?", StringComparison.Ordinal));
        var plan = (await TestEngine.PlanAsync([workspace.Root], Day1)).Plan!;
        Assert.All(plan.Errors, e => Assert.Equal(("PB5002", "A"), (e.Id, e.Key)));
        Assert.Contains("group_by renders nothing", plan.Errors[0].Message, StringComparison.Ordinal);
        Assert.Equal(["C", "C"], plan.Digests.Single().Findings.Select(f => f.Key));
    }
}
