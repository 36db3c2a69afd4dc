using PlaybookRunner.Core.Compilation;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Loading;
using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Core.Tests.Compilation;

public sealed class CompileCacheTests
{
    private const string Data = "id,spend\nA,10\nB,90\n";

    private static string Playbook(string when = "spend > 50", string message = "big spender") => $$"""
        playbook: p
        source: { kind: csv, path: data.csv, key: id, fields: { id: string, spend: decimal } }
        let:
          top: ParetoThreshold(c => c.spend, 0.8)
        rules:
          - id: r
            when: {{when}}
            message: {{message}}
        """;

    private static (Core.Model.WorkspaceDefinition Workspace, string Key, string Entry) Load(string file)
    {
        var diagnostics = new DiagnosticBag();
        var workspace = WorkspaceLoader.Load([file], TestEngine.Host(), diagnostics)!;
        var key = CompileCache.Key(workspace, workspace.SourcesToRead());
        return (workspace, key, CompileCache.Of(TestEngine.Host())!.PathOf(key));
    }

    [Fact]
    public void A_clean_compile_is_cached_and_a_hit_runs_the_same()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", Data);
        var file = workspace.Write("p.yaml", Playbook(when: "spend > 50 && id != \"cache-" + Guid.NewGuid().ToString("N") + "\""));
        var (_, _, entry) = Load(file);
        Assert.False(File.Exists(entry));

        var first = TestEngine.Plan([file], DateTimeOffset.UnixEpoch);
        Assert.True(File.Exists(entry));
        Assert.Equal("PBC1", System.Text.Encoding.ASCII.GetString(File.ReadAllBytes(entry), 0, 4));
        // This entry's temporary file is gone (other tests write their own entries into the shared folder meanwhile).
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(entry)!, Path.GetFileName(entry) + ".*.tmp"));
        var written = File.ReadAllBytes(entry);

        var second = TestEngine.Plan([file], DateTimeOffset.UnixEpoch);
        Assert.Equal(["B"], first.Plan!.Findings.Select(f => f.Key));
        Assert.Equal(["B"], second.Plan!.Findings.Select(f => f.Key));
        Assert.Equal(written, File.ReadAllBytes(entry));
    }

    [Fact]
    public void A_corrupt_entry_is_detected_deleted_and_rebuilt()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", Data);
        var file = workspace.Write("p.yaml", Playbook(when: "spend > 50 && id != \"corrupt-" + Guid.NewGuid().ToString("N") + "\""));
        var (_, key, entry) = Load(file);
        Assert.True(TestEngine.Validate([file]).Success);
        var good = File.ReadAllBytes(entry);

        var torn = (byte[])good.Clone();
        torn[^10] ^= 0xFF;
        File.WriteAllBytes(entry, torn);
        Assert.Null(CompileCache.Of(TestEngine.Host())!.TryRead(key));
        Assert.False(File.Exists(entry));

        File.WriteAllBytes(entry, good[..20]);
        var plan = TestEngine.Plan([file], DateTimeOffset.UnixEpoch);
        Assert.Equal(["B"], plan.Plan!.Findings.Select(f => f.Key));
        Assert.Equal(good, File.ReadAllBytes(entry));
    }

    [Fact]
    public void Errors_are_never_cached()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", Data);
        var file = workspace.Write("p.yaml", Playbook(when: "spend > \"fifty-" + Guid.NewGuid().ToString("N") + "\""));
        var (_, _, entry) = Load(file);
        var validation = TestEngine.Validate([file]);
        Assert.Equal("PB2001", Assert.Single(validation.Diagnostics).Id);
        Assert.False(File.Exists(entry));
    }

    [Fact]
    public void The_key_follows_expressions_and_where_they_are_written_not_templates()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", Data);
        var file = workspace.Write("p.yaml", Playbook());
        var key = Load(file).Key;

        workspace.Write("p.yaml", Playbook(message: "a different message"));
        Assert.Equal(key, Load(file).Key);

        workspace.Write("p.yaml", Playbook(when: "spend > 51"));
        Assert.NotEqual(key, Load(file).Key);

        // Same expression one line lower: #line directives differ, so the assembly does too.
        workspace.Write("p.yaml", "# moved\n" + Playbook());
        Assert.NotEqual(key, Load(file).Key);
    }

    [Fact]
    public void Writes_leave_no_temporary_files_and_old_entries_are_pruned()
    {
        using var workspace = new TempWorkspace();
        var cache = CompileCache.FromSetting(Path.Combine(workspace.Root, "cache"), TestEngine.Host())!;
        for (var i = 0; i < CompileCache.MaxEntries + 5; i++)
        {
            cache.Write($"k{i:D3}", [1, 2, (byte)i]);
            File.SetLastWriteTimeUtc(cache.PathOf($"k{i:D3}"), new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddMinutes(i));
        }

        var files = Directory.GetFiles(cache.Folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(CompileCache.MaxEntries, files.Count);
        Assert.DoesNotContain("k000.pbc", files);
        Assert.Contains($"k{CompileCache.MaxEntries + 4:D3}.pbc", files);
        Assert.Equal([1, 2, 7], cache.TryRead("k007") ?? []);
    }

    [Fact]
    public void Off_or_empty_disables_the_cache()
    {
        Assert.Null(CompileCache.FromSetting("off", TestEngine.Host()));
        Assert.Null(CompileCache.FromSetting("OFF", TestEngine.Host()));
        Assert.Null(CompileCache.FromSetting("", TestEngine.Host()));
        Assert.Equal(Path.GetFullPath("/tmp/somewhere"), CompileCache.FromSetting("/tmp/somewhere", TestEngine.Host())!.Folder);
    }
}
