using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Loading;

namespace PlaybookRunner.Core.Tests.Loading;

public sealed class WorkspaceLoaderTests
{
    private const string Playbook = "playbook: same\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: \"true\" }\n";

    [Fact]
    public void Duplicate_playbook_ids_are_reported_at_the_second_file()
    {
        using var workspace = new TempWorkspace();
        var first = workspace.Write("a.yaml", Playbook);
        var second = workspace.Write("b.yaml", Playbook);
        var diagnostics = new DiagnosticBag();
        var loaded = WorkspaceLoader.Load([workspace.Root], diagnostics);
        var error = Assert.Single(diagnostics.Items);
        Assert.Equal(("PB1009", second, 1, 11), (error.Id, error.Location.Path, error.Location.Line, error.Location.Column));
        Assert.Equal($"Playbook id 'same' is already used by {first}", error.Message);
        Assert.Single(loaded!.Playbooks);
    }

    [Fact]
    public void Test_and_suppression_files_are_not_playbooks()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("a.yaml", Playbook);
        workspace.Write("a.test.yaml", "tests: []\n");
        workspace.Write("suppressions.yaml", "suppressions: []\n");
        var diagnostics = new DiagnosticBag();
        var loaded = WorkspaceLoader.Load([workspace.Root], diagnostics);
        Assert.Empty(diagnostics.Items);
        Assert.Single(loaded!.Playbooks);
    }

    [Fact]
    public void An_empty_folder_says_so()
    {
        using var workspace = new TempWorkspace();
        var diagnostics = new DiagnosticBag();
        Assert.Null(WorkspaceLoader.Load([workspace.Root], diagnostics));
        Assert.Equal("PB1019", Assert.Single(diagnostics.Items).Id);
    }

    [Fact]
    public void Broken_runner_yaml_is_reported_and_named_sources_then_fail()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("runner.yaml", "sources:\n  crm: { kind: csv, path: d.csv, key: id, fields: { id: strin } }\n");
        workspace.Write("a.yaml", "playbook: a\nsource: crm\nrules:\n  - { id: r, when: \"true\" }\n");
        var result = PlaybookEngine.Validate([workspace.Root]);
        Assert.Equal(["PB4001", "PB1005"], result.Diagnostics.Select(d => d.Id));
        Assert.EndsWith("runner.yaml", result.Diagnostics[1].Location.Path, StringComparison.Ordinal);
    }
}
