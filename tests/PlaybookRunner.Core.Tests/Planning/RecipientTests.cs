namespace PlaybookRunner.Core.Tests.Planning;

/// <summary>A rendered to/cc yields exactly the addresses its template writes: data cannot add recipients.</summary>
public sealed class RecipientTests
{
    private static Core.Planning.Plan Plan(string email, string to)
    {
        using var workspace = new TempWorkspace();
        workspace.Write("runner.yaml", "channels:\n  default: { kind: smtp, host: 127.0.0.1, from: cs@example.com }\n");
        workspace.Write("d.csv", $"id,email\nA,\"{email.Replace("\"", "\"\"", StringComparison.Ordinal)}\"\n");
        var file = workspace.Write("p.yaml", $$"""
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, email: string } }
            rules:
              - id: r
                when: "true"
                actions:
                  - { type: email, to: "{{to}}", cc: "team@example.com", subject: s, body: b }
            """);
        var result = TestEngine.Plan([file], DateTimeOffset.UnixEpoch);
        return result.Plan ?? throw new InvalidOperationException(string.Join('\n', result.Diagnostics.Select(d => d.Message)));
    }

    [Theory]
    [InlineData("a@example.com, evil@example.net", "renders 2 addresses where its template writes 1")]
    [InlineData("a@example.com; evil@example.net", "renders 2 addresses where its template writes 1")]
    [InlineData("a@example.com,", "renders 2 addresses where its template writes 1")]
    [InlineData(" ,", "renders 2 addresses where its template writes 1")]
    [InlineData("ann at example.com", "which is not one email address")]
    [InlineData("not an address", "which is not one email address")]
    [InlineData("\"Evil, Inc\" <evil@example.net>", "renders 2 addresses where its template writes 1")]
    public void A_value_from_the_data_cannot_add_or_blank_a_recipient(string email, string why)
    {
        var plan = Plan(email, "{{ email }}");
        Assert.Empty(plan.Findings);
        var error = Assert.Single(plan.Errors);
        Assert.Contains(why, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ann@example.com", "{{ email }}", "ann@example.com")]
    [InlineData("Ann Smith <ann@example.com>", "{{ email }}", "Ann Smith <ann@example.com>")]
    [InlineData("ann@example.com", "{{ email }}, cs@example.com", "ann@example.com, cs@example.com")]
    [InlineData("ann@example.com", "{{ email }}; cs@example.com", "ann@example.com; cs@example.com")]
    public void The_template_decides_how_many_recipients(string email, string to, string rendered)
    {
        var plan = Plan(email, to);
        Assert.Empty(plan.Errors);
        Assert.Equal(rendered, Assert.Single(Assert.Single(plan.Findings).Actions).Fields.Single(f => f.Name == "to").Text);
    }
}
