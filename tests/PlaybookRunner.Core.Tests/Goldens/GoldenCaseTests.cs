using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Core.Tests.Goldens;

/// <summary>
/// Each broken playbook in Cases/NNN-area/NNN-case.yaml is validated alone; its diagnostics, in the
/// canonical text form, must equal NNN-case.diagnostics.txt exactly.
/// </summary>
public sealed class GoldenCaseTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(TestPaths.Cases, "*.yaml", SearchOption.AllDirectories)
                     .Where(f => Path.GetFileName(f) != "runner.yaml")
                     .Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(TestPaths.Cases, file).Replace('\\', '/'));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case_yields_exactly_the_golden_diagnostics(string relativePath)
    {
        var file = Path.Combine(TestPaths.Cases, relativePath);
        var result = TestEngine.Validate([file]);
        var actual = DiagnosticFormatter.WriteText(result.Diagnostics, TestPaths.Cases);
        var golden = Path.ChangeExtension(file, ".diagnostics.txt");
        if (TestPaths.UpdateGoldens)
        {
            File.WriteAllText(golden, actual);
            return;
        }

        Assert.True(File.Exists(golden), $"Missing golden {golden}; run with PLAYBOOK_UPDATE_GOLDEN=1 and review it");
        Assert.Equal(File.ReadAllText(golden), actual);
        if (!relativePath.StartsWith("000-valid/", StringComparison.Ordinal))
        {
            Assert.Contains(result.Diagnostics, d => d.IsError && d.Location.HasPath && d.Location.Line > 0 && d.Location.Column > 0);
        }
    }

    [Fact]
    public void Corpus_has_at_least_thirty_broken_playbooks()
    {
        var broken = Cases().Cast<object[]>().Count(c => !((string)c[0]).StartsWith("000-valid/", StringComparison.Ordinal));
        Assert.True(broken >= 30, $"only {broken} broken cases");
    }
}
