using PlaybookRunner.Core.Compilation;

namespace PlaybookRunner.Core.Tests.Compilation;

public sealed class PlaybookCompilerTests
{
    [Fact]
    public void All_playbooks_compile_into_one_assembly()
    {
        var diagnostics = new Core.Diagnostics.DiagnosticBag();
        var workspace = Core.Loading.WorkspaceLoader.Load([TestPaths.Playbooks], TestEngine.Host(), diagnostics)!;
        var compiled = PlaybookCompiler.Compile(workspace, diagnostics, load: true)!;
        Assert.Empty(diagnostics.Items);
        Assert.Equal(3, compiled.Playbooks.Count);
        var types = compiled.Assembly!.GetTypes().Select(t => t.Name).Where(n => n.StartsWith("Playbook", StringComparison.Ordinal) || n.StartsWith("Record", StringComparison.Ordinal)).Order(StringComparer.Ordinal);
        Assert.Equal(["Playbook0", "Playbook1", "Playbook2", "Record0", "Record1"], types);
        Assert.True(System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(compiled.Assembly)!.IsCollectible);
    }

    [Fact]
    public void Forbidden_calls_are_located_and_never_run()
    {
        using var workspace = new TempWorkspace();
        var marker = Path.Combine(workspace.Root, "escaped.txt");
        workspace.Write("data.csv", "id\nA\n");
        var file = workspace.Write("p.yaml", $$"""
            playbook: p
            source: { kind: csv, path: data.csv, key: id, fields: { id: string } }
            rules:
              - id: r
                when: id == "A" && System.IO.File.Exists("{{marker}}")
              - id: s
                when: Environment.GetEnvironmentVariable("HOME") != null
            """);
        var validation = TestEngine.Validate([file]);
        Assert.Equal(
            [("PB2002", 5, 31, "'System.IO' is not allowed in playbook expressions"), ("PB2002", 7, 11, "'System.Environment' is not allowed in playbook expressions")],
            validation.Diagnostics.Select(d => (d.Id, d.Location.Line, d.Location.Column, d.Message)));
        var plan = TestEngine.Plan([file], DateTimeOffset.UnixEpoch);
        Assert.Null(plan.Plan);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void Compile_errors_point_into_the_yaml_line_of_a_literal_block()
    {
        using var workspace = new TempWorkspace();
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: data.csv, key: id, fields: { id: string, n: int } }
            rules:
              - id: r
                when: |
                  n > 1 &&
                    nn < 3
            """);
        var error = Assert.Single(TestEngine.Validate([file]).Diagnostics);
        Assert.Equal(("PB2001", 7, 9), (error.Id, error.Location.Line, error.Location.Column));
        Assert.StartsWith("CS0103: 'nn' is not a field, related list, let value, computed value, segment or helper of playbook", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Code_smuggled_after_an_expression_is_rejected_before_compiling()
    {
        using var workspace = new TempWorkspace();
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: data.csv, key: id, fields: { id: string } }
            rules:
              - id: r
                when: "true); } static void X() { System.IO.File.Delete(\"x\"); } void Y() { var z = (true"
            """);
        var diagnostics = TestEngine.Validate([file]).Diagnostics;
        Assert.NotEmpty(diagnostics);
        Assert.All(diagnostics, d => Assert.Equal(5, d.Location.Line));
        Assert.All(diagnostics, d => Assert.StartsWith("PB200", d.Id, StringComparison.Ordinal));
    }
}
