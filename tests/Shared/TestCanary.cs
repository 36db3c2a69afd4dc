namespace PlaybookRunner.Tests.Shared;

/// <summary>
/// Canary secrets for the whole suite. Every secret a test passes through <c>${env:...}</c> is made
/// here with one prefix, so that after the run <c>.ci/run</c> can sweep everything the run wrote:
/// its log, the output tests captured, the workspaces and state stores they left, the PostgreSQL
/// cluster (tests/scripts/canary-sweep.sh). <c>PLAYBOOK_TEST_SWEEP</c> names the folder for captured
/// output and asks the tests to leave their temporary folders for the sweep.
/// </summary>
internal static class TestCanary
{
    /// <summary>What every canary starts with: the sweep looks for this.</summary>
    public const string Prefix = "PBCANARY";

    private static string? SweepFolder => Environment.GetEnvironmentVariable("PLAYBOOK_TEST_SWEEP") is { Length: > 0 } folder ? folder : null;

    /// <summary>A fresh canary value; <paramref name="what"/> says in a sweep report which secret it was.</summary>
    public static string New(string what) => $"{Prefix}-{what}-{Guid.NewGuid().ToString("N")[..10]}";

    /// <summary>Under a sweep, keeps a copy of output a test captured (a process's log, a command's output).</summary>
    public static void Keep(string name, string text)
    {
        if (SweepFolder is { } folder && text.Length > 0)
        {
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, $"{name}-{Guid.NewGuid():N}.log"), text);
        }
    }

    /// <summary>Deletes a test's temporary folder, except under a sweep, which reads it and then removes it.</summary>
    public static void DeleteFolder(string path)
    {
        if (SweepFolder is null && Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }
}
