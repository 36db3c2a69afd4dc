namespace PlaybookRunner.Core.Tests;

/// <summary>Where the repository and the shared data are, from wherever the tests run.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRoot();

    public static string Playbooks => Path.Combine(RepoRoot, "playbooks");

    public static string Cases => Path.Combine(RepoRoot, "tests", "PlaybookRunner.Core.Tests", "Cases");

    public static string Goldens => Path.Combine(RepoRoot, "tests", "PlaybookRunner.Core.Tests", "Goldens");

    public static string TelcoCsv => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data", "telco-customer-churn.csv"));

    /// <summary>Set PLAYBOOK_UPDATE_GOLDEN=1 to rewrite golden files instead of comparing (then review the diff).</summary>
    public static bool UpdateGoldens => Environment.GetEnvironmentVariable("PLAYBOOK_UPDATE_GOLDEN") == "1";

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PlaybookRunner.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("PlaybookRunner.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A throw-away folder with files written by a test, deleted afterwards.</summary>
internal sealed class TempWorkspace : IDisposable
{
    public TempWorkspace()
    {
        Root = Path.Combine(Path.GetTempPath(), "pbtest-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string Write(string relativePath, string content)
    {
        var path = Path.Combine(Root, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content.Replace("\r\n", "\n", StringComparison.Ordinal));
        return path;
    }

    public void Dispose()
    {
        try
        {
            TestCanary.DeleteFolder(Root);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// A fact that needs the public telco dataset (<c>../shared/data/telco-customer-churn.csv</c>, beside the clone in CI):
/// reported as skipped, with the reason, in a clone that has no sibling folders.
/// </summary>
internal sealed class TelcoFactAttribute : FactAttribute
{
    public TelcoFactAttribute()
    {
        if (!File.Exists(TestPaths.TelcoCsv))
        {
            Skip = $"needs the public telco dataset at {TestPaths.TelcoCsv} (not in the repository; CI has it beside the clone)";
        }
    }
}
