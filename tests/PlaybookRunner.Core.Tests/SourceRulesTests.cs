namespace PlaybookRunner.Core.Tests;

/// <summary>House rules that the compiler cannot enforce.</summary>
public sealed class SourceRulesTests
{
    [Fact]
    public void Time_comes_from_TimeProvider_never_the_wall_clock()
    {
        var offenders = Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => File.ReadAllText(f) is var text && (text.Contains("DateTime.Now", StringComparison.Ordinal)
                || text.Contains("DateTime.UtcNow", StringComparison.Ordinal) || text.Contains("DateTimeOffset.Now", StringComparison.Ordinal)
                || text.Contains("DateTimeOffset.UtcNow", StringComparison.Ordinal)))
            .ToList();
        Assert.Empty(offenders);
    }
}
