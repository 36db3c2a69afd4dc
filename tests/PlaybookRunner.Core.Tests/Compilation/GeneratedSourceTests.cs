using PlaybookRunner.Core.Compilation;

namespace PlaybookRunner.Core.Tests.Compilation;

/// <summary>
/// Text an author controls outside an expression (file and folder names) never reaches the generated
/// source, and an expression cannot change the code around it.
/// </summary>
public sealed class GeneratedSourceTests
{
    public static TheoryData<string> HostileNames() => new()
    {
        "quote\".yaml",
        "back\\slash\".yaml",
        "new\nline\n#error injected\n.yaml",
        "nel\u0085#if false\u0085.yaml",
        "ls\u2028#define HIDE.yaml",
        "ps\u2029#pragma warning disable.yaml",
        "cr\r#line 1 \"x\".yaml",
        "comment \\* .yaml",
        "tab\t\"); System.IO.File.Delete(\"x\"); \\.yaml",
    };

    [Theory]
    [MemberData(nameof(HostileNames))]
    public void A_hostile_file_name_is_reported_as_itself_and_changes_no_code(string name)
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", "id,n\nA,5\nB,1\n");
        // The folder's name ends in '*', so the full path holds "*/" (a comment's end) too.
        var folder = Path.Combine(workspace.Root, "sub\"dir\n#if false*");
        Directory.CreateDirectory(folder);
        var bad = Path.Combine(folder, name);
        File.WriteAllText(bad, """
            playbook: bad
            source: { kind: csv, path: ../data.csv, key: id, fields: { id: string, n: int } }
            rules:
              - id: r
                when: n > "3"
            """);
        var good = workspace.Write("good.yaml", """
            playbook: good
            source: { kind: csv, path: data.csv, key: id, fields: { id: string, n: int } }
            rules:
              - id: r
                when: n > 3
            """);

        var validation = TestEngine.Validate([workspace.Root]);
        var error = Assert.Single(validation.Diagnostics, d => d.IsError);
        Assert.Equal(("PB2001", bad, 5, 11), (error.Id, error.Location.Path, error.Location.Line, error.Location.Column));
        Assert.StartsWith("CS0019:", error.Message, StringComparison.Ordinal);

        File.Delete(bad);
        var plan = TestEngine.Plan([good], DateTimeOffset.UnixEpoch);
        Assert.Equal(["A"], plan.Plan!.Findings.Select(f => f.Key));
    }

    [Fact]
    public void The_generated_source_names_files_by_alias_only()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", "id\nA\n");
        var file = workspace.Write("we\"ird\u2028name.yaml", """
            playbook: p
            source: { kind: csv, path: data.csv, key: id, fields: { id: string } }
            rules:
              - id: r
                when: id == "A"
            """);
        var diagnostics = new Core.Diagnostics.DiagnosticBag();
        var loaded = Core.Loading.WorkspaceLoader.Load([file], TestEngine.Host(), diagnostics)!;
        var builder = new CSharpSourceBuilder(diagnostics);
        var sources = loaded.Playbooks.Select(p => p.Source).Distinct().ToList();
        var code = builder.Build(sources, loaded.Playbooks, r => loaded.Sources[r.Source]);

        Assert.DoesNotContain("we\"ird", code, StringComparison.Ordinal);
        Assert.DoesNotContain('\u2028', code);
        Assert.Contains("#line (5, 11) - (5, 20) \"f0.yaml\"", code, StringComparison.Ordinal);
        Assert.Equal(file, builder.Files["f0.yaml"]);
    }

    [Fact]
    public void Fields_named_like_the_generated_parameters_read_their_own_values()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", "id,v,r,c,index,records\nA,vee,arr,see,secret-value,recs\n");
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: data.csv, key: id, fields: { id: string, v: string, r: string, c: string, index: string, records: string } }
            rules:
              - id: r1
                when: v == "vee" && r == "arr" && c == "see" && index == "secret-value" && records == "recs"
                message: "{{ v }} {{ r }} {{ c }} {{ index }} {{ records }}"
            """);

        var result = TestEngine.Plan([file], DateTimeOffset.UnixEpoch);

        Assert.True(result.Plan is not null, string.Join("\n", result.Diagnostics.Select(d => d.Message)));
        Assert.Equal("vee arr see secret-value recs", Assert.Single(result.Plan.Findings).Message);
    }
}
