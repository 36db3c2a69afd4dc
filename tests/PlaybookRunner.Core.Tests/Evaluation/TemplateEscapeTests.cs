namespace PlaybookRunner.Core.Tests.Evaluation;

/// <summary>
/// Scriban built-ins that run code or read the wall clock are unreachable by value too, not only by name:
/// such a template passes validate (its names are ordinary) but renders nothing of what it asked for.
/// </summary>
public sealed class TemplateEscapeTests
{
    public static TheoryData<string> ByValue() => new()
    {
        "{{ o = object; o.eval \"40+2\" }}",
        "{{ object[\"eval\"] \"40+2\" }}",
        "{{ (object).eval \"40+2\" }}",
        "{{ o = object; o.eval_template \"{{ 40+2 }}\" }}",
        "{{ o = object; x = o[\"eval\"]; x \"40+2\" }}",
        "{{ d = date; d.now }}",
        "{{ date[\"now\"] }}",
        "{{ o = object; o.eval name }}",
    };

    [Fact]
    public void The_rest_of_object_and_date_still_renders()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", "id,name\nA,Acme\n");
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: data.csv, key: id, fields: { id: string, name: string } }
            rules:
              - id: r
                when: id == "A"
                message: '{{ object.typeof name }} {{ date.to_string now "%Y" }} {{ name | string.upcase }}'
            """);

        var plan = TestEngine.Plan([file], new DateTimeOffset(2001, 2, 3, 4, 5, 6, TimeSpan.Zero)).Plan!;
        Assert.Empty(plan.Errors);
        Assert.Equal("string 2001 ACME", Assert.Single(plan.Findings).Message);
    }

    [Theory]
    [MemberData(nameof(ByValue))]
    public void A_builtin_reached_by_value_does_not_run(string template)
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", "id,name\nA,40+2\n");
        var file = workspace.Write("p.yaml", $$"""
            playbook: p
            source: { kind: csv, path: data.csv, key: id, fields: { id: string, name: string } }
            rules:
              - id: r
                when: id == "A"
                message: '{{template.Replace("'", "''", StringComparison.Ordinal)}}'
            """);
        Assert.True(TestEngine.Validate([file]).Success);

        var plan = TestEngine.Plan([file], new DateTimeOffset(2001, 2, 3, 4, 5, 6, TimeSpan.Zero)).Plan!;
        var error = Assert.Single(plan.Errors);
        Assert.Equal(("r", "A"), (error.Rule, error.Key));
        Assert.DoesNotContain("TypeInitializationException", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(plan.Findings, f => f.Message is { } m && (m.Contains("42", StringComparison.Ordinal) || m.Contains("20", StringComparison.Ordinal)));
    }
}
