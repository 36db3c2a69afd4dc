using System.Runtime.CompilerServices;

namespace PlaybookRunner.Tests.Shared;

/// <summary>
/// What the operator of the test run allows (inherited by the processes the tests start): variables
/// named PB_* for ${env:...}, the shared
/// data folder beside the repository as an extra root (the telco dataset), and the repository's
/// artifacts/plugins as a plugin folder (the plugins the build produces). Tests of the confinement
/// itself use folders outside both.
/// </summary>
internal static class TestOperatorSettings
{
    /// <summary>A plugin folder outside every workspace that the operator allows, for tests of plugin loading.</summary>
    public static string PluginFolder { get; } = Path.Combine(Path.GetTempPath(), $"playbook-test-operator-plugins-{Environment.ProcessId}");

    /// <summary>The repository's root (the folder holding PlaybookRunner.sln), found from the test assembly's folder.</summary>
    public static string RepoRoot { get; } = FindRoot();

    private static string FindRoot()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "PlaybookRunner.sln")))
        {
            root = root.Parent;
        }

        return root?.FullName ?? AppContext.BaseDirectory;
    }

    [ModuleInitializer]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255", Justification = "Test-run set-up before any test.")]
    internal static void Initialize()
    {
        // What the CLI's entry point does first: the process settings the engine relies on (a regex match timeout).
        Core.PlaybookEngine.ConfigureProcess();
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "PlaybookRunner.sln")))
        {
            root = root.Parent;
        }

        if (root is null)
        {
            return;
        }

        Environment.SetEnvironmentVariable("PLAYBOOK_ALLOWED_ROOTS", Path.GetFullPath(Path.Combine(root.FullName, "..", "shared", "data")));
        // Every secret the tests pass through ${env:...} is named PB_...; tests of the policy itself use other names.
        Environment.SetEnvironmentVariable("PLAYBOOK_ALLOWED_ENV", "PB_*");
        Environment.SetEnvironmentVariable("PLAYBOOK_PLUGIN_FOLDERS", Path.Combine(root.FullName, "artifacts", "plugins") + Path.PathSeparator + PluginFolder);
    }
}
