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
        var loaded = WorkspaceLoader.Load([workspace.Root], TestEngine.Host(), diagnostics);
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
        var loaded = WorkspaceLoader.Load([workspace.Root], TestEngine.Host(), diagnostics);
        Assert.Empty(diagnostics.Items);
        Assert.Single(loaded!.Playbooks);
    }

    [Fact]
    public void A_snapshot_loads_the_bytes_it_holds_not_what_the_files_say_by_now()
    {
        using var workspace = new TempWorkspace();
        var runner = workspace.Write("runner.yaml", "timezone: Europe/Paris\n");
        var file = workspace.Write("a.yaml", Playbook);
        workspace.Write("suppressions.yaml", "suppressions: [ { rule: same/r, justification: agreed with the owner } ]\n");
        var loaded = WorkspaceLoader.Load([workspace.Root], TestEngine.Host(), new DiagnosticBag())!;
        var snapshot = WorkspaceSnapshot.Of(loaded);
        workspace.Write("a.yaml", Playbook.Replace("\"true\"", "\"false\"", StringComparison.Ordinal));
        workspace.Write("runner.yaml", "timezone: [broken\n");
        File.Delete(Path.Combine(workspace.Root, "suppressions.yaml"));

        var diagnostics = new DiagnosticBag();
        var again = WorkspaceLoader.Load(snapshot, TestEngine.Host(), diagnostics)!;

        Assert.Empty(diagnostics.Items);
        Assert.Equal(runner, snapshot.RunnerPath);
        Assert.Equal([file], snapshot.Playbooks);
        Assert.Equal(3, snapshot.Files.Count);
        Assert.Equal(("Europe/Paris", "true", "agreed with the owner"), (again.DefaultTimeZone, again.Playbooks.Single().Rules.Single().When.Value, again.Suppressions.Single().Justification));
    }

    [Fact]
    public void A_snapshot_without_a_file_it_names_is_a_located_diagnostic()
    {
        var path = Path.Combine(Path.GetTempPath(), "pbtest-none", "a.yaml");
        var diagnostics = new DiagnosticBag();
        var loaded = WorkspaceLoader.Load(new WorkspaceSnapshot(null, Path.GetDirectoryName(path)!, [path], new Dictionary<string, byte[]>()), TestEngine.Host(), diagnostics);

        var error = Assert.Single(diagnostics.Items);
        Assert.Equal(("PB1018", path, 1, 1, $"Cannot read {path}: not in the snapshot"), (error.Id, error.Location.Path, error.Location.Line, error.Location.Column, error.Message));
        Assert.Empty(loaded!.Playbooks);
    }

    [Fact]
    public void An_empty_folder_says_so()
    {
        using var workspace = new TempWorkspace();
        var diagnostics = new DiagnosticBag();
        Assert.Null(WorkspaceLoader.Load([workspace.Root], TestEngine.Host(), diagnostics));
        Assert.Equal("PB1019", Assert.Single(diagnostics.Items).Id);
    }

    [Fact]
    public void A_broken_source_in_runner_yaml_is_one_error_at_its_cause_not_one_per_playbook_using_it()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("runner.yaml", "sources:\n  crm: { kind: csv, path: d.csv, key: id, fields: { id: strin } }\n");
        workspace.Write("a.yaml", "playbook: a\nsource: crm\nrules:\n  - { id: r, when: \"true\" }\n");
        var result = TestEngine.Validate([workspace.Root]);
        Assert.Equal("PB1005", Assert.Single(result.Diagnostics).Id);
        Assert.EndsWith("runner.yaml", result.Diagnostics[0].Location.Path, StringComparison.Ordinal);
    }
}
