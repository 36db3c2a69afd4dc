using System.Runtime.CompilerServices;

namespace PlaybookRunner.Tests.Shared;

/// <summary>
/// Gives each test run its own compile cache (inherited by the processes the tests start), so that
/// tests never read what another run or the developer's own use left in ~/.cache.
/// </summary>
internal static class TestCacheFolder
{
    [ModuleInitializer]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255", Justification = "Test-run set-up before any test.")]
    internal static void Initialize()
    {
        if (Environment.GetEnvironmentVariable("PLAYBOOK_CACHE_DIR") is null)
        {
            Environment.SetEnvironmentVariable("PLAYBOOK_CACHE_DIR", Path.Combine(Path.GetTempPath(), $"playbook-test-cache-{Environment.ProcessId}"));
        }
    }
}
