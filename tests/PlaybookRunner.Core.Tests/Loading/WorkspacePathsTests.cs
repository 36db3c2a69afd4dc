using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Core.Tests.Loading;

/// <summary>
/// A workspace names files inside its root only (after '..' and symbolic links), and cannot make the tool
/// load code from a folder the operator did not name.
/// </summary>
public sealed class WorkspacePathsTests : IDisposable
{
    private readonly string _outside = Directory.CreateTempSubdirectory("pb-outside-").FullName;

    public WorkspacePathsTests()
    {
        File.WriteAllText(Path.Combine(_outside, "secret.csv"), "id,n\nPBOUTSIDE-SECRET,5\n");
        Directory.CreateDirectory(Path.Combine(_outside, "deeper"));
    }

    public void Dispose() => Directory.Delete(_outside, recursive: true);

    /// <summary>Each way of naming the outside file: the path written, and links to make in the workspace.</summary>
    public static TheoryData<string, string[]> Escapes() => new()
    {
        { "{outside}/secret.csv", [] },
        { "../{outsideName}/secret.csv", [] },
        { "data/../../{outsideName}/secret.csv", [] },
        { "link.csv", ["link.csv>{outside}/secret.csv"] },
        { "folder/secret.csv", ["folder>{outside}"] },
        { "chain.csv", ["chain.csv>hop.csv", "hop.csv>{outside}/secret.csv"] },
        // '..' inside a link's target is taken after the link it follows, as the operating system does.
        { "dots.csv", ["dots.csv>deeper/../secret.csv", "deeper>{outside}/deeper"] },
    };

    [Theory]
    [MemberData(nameof(Escapes))]
    public async Task A_source_outside_the_root_is_an_error_and_never_read(string written, string[] links)
    {
        using var workspace = new TempWorkspace();
        written = Expand(written);
        foreach (var link in links.Select(Expand))
        {
            var (at, target) = (link.Split('>')[0], link.Split('>')[1]);
            File.CreateSymbolicLink(Path.Combine(workspace.Root, at), target);
        }

        var file = workspace.Write("p.yaml", $$"""
            playbook: p
            source:
              kind: csv
              path: "{{written}}"
              key: id
              fields: { id: string, n: int }
            rules:
              - { id: r, when: n > 3 }
            """);

        var validation = TestEngine.Validate([file]);
        var error = Assert.Single(validation.Diagnostics, d => d.IsError);
        Assert.Equal(("PB1030", file, 4, 9), (error.Id, error.Location.Path, error.Location.Line, error.Location.Column));
        Assert.Contains("is outside the workspace root", error.Message, StringComparison.Ordinal);

        var plan = await TestEngine.PlanAsync([file], DateTimeOffset.UnixEpoch);
        Assert.Null(plan.Plan);
        Assert.DoesNotContain(plan.Diagnostics, d => d.Message.Contains("PBOUTSIDE-SECRET", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("{outside}/secret.csv")]
    [InlineData("../{outsideName}/secret.csv")]
    [InlineData("link.csv")]
    public void Sources_describe_reads_nothing_outside_the_root(string written)
    {
        using var workspace = new TempWorkspace();
        File.CreateSymbolicLink(Path.Combine(workspace.Root, "link.csv"), Path.Combine(_outside, "secret.csv"));
        workspace.Write("runner.yaml", $$"""
            sources:
              crm: { kind: csv, path: "{{Expand(written)}}", key: id, fields: { id: string } }
            """);

        var (text, diagnostics) = TestEngine.DescribeSource([workspace.Root], "crm");

        Assert.Null(text);
        Assert.Equal("PB1030", Assert.Single(diagnostics, d => d.IsError).Id);
        Assert.DoesNotContain(diagnostics, d => d.Message.Contains("PBOUTSIDE-SECRET", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("q.yaml", "/dev/zero")]
    [InlineData("loop", ".")]
    [InlineData("sub", "{outside}")]
    [InlineData("suppressions.yaml", "{outside}/secret.csv")]
    [InlineData("x.yaml", "{outside}/secret.csv")]
    public void Links_in_a_workspace_are_not_followed(string at, string target)
    {
        using var workspace = new TempWorkspace();
        File.WriteAllText(Path.Combine(_outside, "p2.yaml"), "playbook: outside\nsource: { kind: csv, path: x.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: \"true\" }\n");
        workspace.Write("data.csv", "id\nA\n");
        var file = workspace.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: data.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: \"true\" }\n");
        File.CreateSymbolicLink(Path.Combine(workspace.Root, at), Expand(target));

        var validation = TestEngine.Validate([workspace.Root]);

        var warning = Assert.Single(validation.Diagnostics, d => d.Id == "PB1035");
        Assert.Equal(Path.Combine(workspace.Root, at), warning.Location.Path);
        Assert.DoesNotContain(validation.Diagnostics, d => d.IsError);
        Assert.DoesNotContain(validation.Diagnostics, d => d.Message.Contains("PBOUTSIDE-SECRET", StringComparison.Ordinal));
        Assert.Equal(["p"], TestEngine.Plan([workspace.Root], DateTimeOffset.UnixEpoch).Plan!.Findings.Select(f => f.Playbook).Distinct());
        Assert.True(File.Exists(file));
    }

    [Fact]
    public void A_link_inside_the_root_to_a_file_inside_it_is_fine()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data/real.csv", "id,n\nA,5\n");
        File.CreateSymbolicLink(Path.Combine(workspace.Root, "alias.csv"), Path.Combine(workspace.Root, "data", "real.csv"));
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: alias.csv, key: id, fields: { id: string, n: int } }
            rules:
              - { id: r, when: n > 3 }
            """);

        Assert.Equal(["A"], TestEngine.Plan([file], DateTimeOffset.UnixEpoch).Plan!.Findings.Select(f => f.Key));
    }

    [Fact]
    public void A_state_file_or_literal_file_action_outside_the_root_is_an_error()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", "id,n\nA,5\n");
        workspace.Write("runner.yaml", $$"""
            state: { kind: sqlite, path: "{{_outside}}/state.db" }
            """);
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: data.csv, key: id, fields: { id: string, n: int } }
            rules:
              - id: r
                when: n > 3
                actions:
                  - { type: file, path: ../escaped.jsonl, body: "{{ id }}" }
            """);

        var validation = TestEngine.Validate([file]);
        Assert.Equal(["PB1030", "PB1030"], validation.Diagnostics.Where(d => d.IsError).Select(d => d.Id));
        Assert.Contains(validation.Diagnostics, d => d.Location.Path.EndsWith("runner.yaml", StringComparison.Ordinal) && d.Location.Line == 1);
        Assert.Contains(validation.Diagnostics, d => d.Location.Path == file && d.Location.Line == 7);
    }

    [Theory]
    [InlineData("../../escaped")]
    [InlineData("/tmp/pb-escaped-absolute")]
    [InlineData("sub/../../escaped")]
    public async Task A_file_action_path_rendered_from_data_cannot_leave_the_root(string id)
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", $"id,n\n\"{id}\",5\nok,5\n");
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: data.csv, key: id, fields: { id: string, n: int } }
            rules:
              - id: r
                when: n > 3
                actions:
                  - { type: file, path: "{{ id }}.jsonl", body: "{{ id }}" }
            """);

        var run = await TestEngine.RunAsync([file], DateTimeOffset.UnixEpoch, new FixedTimeProvider(DateTimeOffset.UnixEpoch));
        Assert.True(run.Plan is not null, string.Join('\n', run.Diagnostics.Select(d => d.Message)));

        // plan reports it (preflight) and run never executes it: a value adds no path segment.
        var error = Assert.Single(run.Plan.Errors);
        Assert.Equal(id, error.Key);
        Assert.Contains("a value from the data cannot add path segments", error.Message, StringComparison.Ordinal);
        Assert.Equal(["ok"], run.Actions.Select(a => a.Key));
        Assert.True(run.Actions[0].Succeeded);
        Assert.False(File.Exists(Path.GetFullPath(Path.Combine(workspace.Root, id + ".jsonl"))));
    }

    [Fact]
    public void Plugin_folders_in_runner_yaml_load_nothing_the_operator_did_not_allow()
    {
        using var workspace = new TempWorkspace();
        var shipped = Path.Combine(TestPaths.RepoRoot, "artifacts", "plugins", "PlaybookRunner.Plugins.Slack");
        var copy = Path.Combine(workspace.Root, "plugins", "PlaybookRunner.Plugins.Slack");
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.EnumerateFiles(shipped))
        {
            File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        }

        workspace.Write("data.csv", "id\nA\n");
        workspace.Write("runner.yaml", """
            plugins: [plugins, /tmp]
            """);
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: data.csv, key: id, fields: { id: string } }
            rules:
              - { id: r, when: id == "A" }
            """);

        var validation = TestEngine.Validate([file]);
        Assert.Equal(
            [("PB1031", 1, 11), ("PB1031", 1, 20)],
            validation.Diagnostics.Where(d => d.Descriptor == DiagnosticDescriptors.PluginFolderNotAllowed).Select(d => (d.Id, d.Location.Line, d.Location.Column)));
        Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(), a => a.Location.StartsWith(workspace.Root, StringComparison.Ordinal));
    }

    private string Expand(string text) => text.Replace("{outside}", _outside, StringComparison.Ordinal).Replace("{outsideName}", Path.GetFileName(_outside), StringComparison.Ordinal);
}
