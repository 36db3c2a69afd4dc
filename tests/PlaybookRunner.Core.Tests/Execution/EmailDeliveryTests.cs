using MimeKit;

namespace PlaybookRunner.Core.Tests.Execution;

/// <summary>
/// Email as customer-success teams send it, through a real SMTP server on loopback: the account owner as sender (within the
/// domains the channel may send as), reply-to, blind copies (in the envelope only), multipart text and HTML, and a
/// List-Unsubscribe header; and what a value from the data cannot do with those fields.
/// </summary>
public sealed class EmailDeliveryTests
{
    private static readonly DateTimeOffset Day1 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private const string Action = """
          - type: email
            from: "{{ owner }} <{{ owner_email }}>"
            reply_to: "{{ owner_email }}"
            to: "{{ contact }}"
            bcc: crm-log@example.com
            subject: "Checking in, {{ name }}"
            body: "Hello {{ name }}, plain text."
            html_body: "<p>Hello <b>{{ name }}</b></p>"
            list_unsubscribe: "https://example.com/unsubscribe?c={{ id }}"
        """;

    [Fact]
    public async Task The_owner_sends_with_reply_to_a_blind_copy_both_parts_and_one_click_unsubscribe()
    {
        using var smtp = new SmtpServer();
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, smtp, Action, "A,Acme <& Co>,Ann Lee,ann@example.com,buyer@acme.test\n");
        var run = await TestEngine.RunAsync([file], Day1, new FixedTimeProvider(Day1));
        Assert.True(run.Success, string.Join("\n", run.Diagnostics.Select(d => d.Message).Concat(run.Plan?.Errors.Select(e => e.Message) ?? [])));

        var message = MimeMessage.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(Assert.Single(smtp.Messages()))));
        Assert.Equal("\"Ann Lee\" <ann@example.com>", message.From.ToString());
        Assert.Equal("ann@example.com", message.ReplyTo.Mailboxes.Single().Address);
        Assert.Empty(message.Bcc);
        Assert.DoesNotContain("crm-log", Assert.Single(smtp.Messages()).Split("\r\n\r\n")[0], StringComparison.Ordinal);
        Assert.Equal(["MAIL FROM: ann@example.com", "RCPT TO: buyer@acme.test", "RCPT TO: crm-log@example.com"], Assert.Single(smtp.Envelopes()).TrimEnd().Split('\n'));
        Assert.Equal("<https://example.com/unsubscribe?c=A>", message.Headers["List-Unsubscribe"]);
        Assert.Equal("List-Unsubscribe=One-Click", message.Headers["List-Unsubscribe-Post"]);
        var alternative = Assert.IsType<MultipartAlternative>(message.Body);
        Assert.Equal("Hello Acme <& Co>, plain text.", alternative.TextBody!.Trim());
        Assert.Equal("<p>Hello <b>Acme &lt;&amp; Co&gt;</b></p>", alternative.HtmlBody!.Trim());
    }

    [Fact]
    public async Task A_mailto_unsubscribe_sends_no_one_click_header()
    {
        using var smtp = new SmtpServer();
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, smtp, """
              - { type: email, to: "{{ contact }}", subject: Hi, body: Hi, list_unsubscribe: "mailto:unsubscribe@example.com?subject=stop%20{{ id }}" }
            """, "A,Acme,Ann Lee,ann@example.com,buyer@acme.test\n");
        Assert.True((await TestEngine.RunAsync([file], Day1, new FixedTimeProvider(Day1))).Success);
        var message = MimeMessage.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(Assert.Single(smtp.Messages()))));
        Assert.Equal("<mailto:unsubscribe@example.com?subject=stop%20A>", message.Headers["List-Unsubscribe"]);
        Assert.Null(message.Headers["List-Unsubscribe-Post"]);
        Assert.Equal("cs@example.com", message.From.Mailboxes.Single().Address);
    }

    [Theory]
    [InlineData("mallory@evil.test", "is not in a domain its channel may send as (example.com, brand.example; allow_from in runner.yaml adds domains)")]
    [InlineData("ann@example.com, ceo@example.com", "renders 2 addresses where its template writes 1")]
    [InlineData("Ann\r\nBcc: all@example.com", "is not one email address")]
    [InlineData("", "which is not one email address")]
    public async Task A_sender_from_the_data_outside_the_channels_domains_or_not_one_address_is_a_plan_error_and_nothing_is_sent(string owner, string problem)
    {
        using var smtp = new SmtpServer();
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, smtp, """
              - { type: email, from: "{{ owner_email }}", to: "{{ contact }}", subject: Hi, body: Hi }
            """, $"A,Acme,Ann,\"{owner}\",buyer@acme.test\nB,Beta,Bob,bob@brand.example,buyer@beta.test\n");
        var run = await TestEngine.RunAsync([file], Day1, new FixedTimeProvider(Day1));
        var error = Assert.Single(run.Plan!.Errors);
        Assert.Equal(("PB5002", "A"), (error.Id, error.Key));
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
        Assert.Equal(["MAIL FROM: bob@brand.example", "RCPT TO: buyer@beta.test"], Assert.Single(smtp.Envelopes()).TrimEnd().Split('\n'));
    }

    [Theory]
    [InlineData("{{ id }}", "cannot choose where unsubscribing goes")]
    [InlineData("https://example.com/u?c={{ name }}", "renders a space, control character")]
    [InlineData("http://example.com/u?c={{ id }}", "cannot choose where unsubscribing goes")]
    public async Task An_unsubscribe_target_the_data_could_choose_or_break_is_a_plan_error(string template, string problem)
    {
        using var smtp = new SmtpServer();
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, smtp, $$$"""
              - { type: email, to: "{{ contact }}", subject: Hi, body: Hi, list_unsubscribe: "{{{template}}}" }
            """, "https://evil.test/x,Two words,Ann,ann@example.com,buyer@acme.test\n");
        var run = await TestEngine.RunAsync([file], Day1, new FixedTimeProvider(Day1));
        Assert.Contains(problem, Assert.Single(run.Plan!.Errors).Message, StringComparison.Ordinal);
        Assert.Empty(smtp.Messages());
    }

    [Fact]
    public void Html_true_with_an_html_body_is_PB1043_at_the_html_body()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("d.csv", "id\n");
        workspace.Write("runner.yaml", "sources:\n  crm: { kind: csv, path: d.csv, key: id, fields: { id: string } }\nchannels:\n  default: { kind: smtp, host: 127.0.0.1, from: cs@example.com }\n");
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: crm
            rules:
              - id: r
                when: "true"
                actions:
                  - type: email
                    to: a@example.com
                    subject: Hi
                    html: true
                    body: "<p>Hi</p>"
                    html_body: "<p>Hi</p>"
            """);
        var error = Assert.Single(TestEngine.Validate([file]).Diagnostics, d => d.IsError);
        Assert.Equal(("PB1043", 12, 9), (error.Id, error.Location.Line, error.Location.Column));
    }

    private static string Workspace(TempWorkspace workspace, SmtpServer smtp, string actions, string rows)
    {
        workspace.Write("d.csv", "id,name,owner,owner_email,contact\n" + rows);
        workspace.Write("runner.yaml", $$"""
            sources:
              crm: { kind: csv, path: d.csv, key: id, fields: { id: string, name: string, owner: string, owner_email: string?, contact: string } }
            channels:
              default: { kind: smtp, host: 127.0.0.1, port: {{smtp.Port}}, from: "Customer Success <cs@example.com>", tls: none, allow_from: [brand.example] }
            """);
        var indented = string.Concat(actions.Split('\n').Select(l => "    " + l + "\n"));
        return workspace.Write("p.yaml", "playbook: p\nsource: crm\nrules:\n  - id: r\n    when: \"true\"\n    actions:\n" + indented);
    }
}
