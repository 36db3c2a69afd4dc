using System.Diagnostics;
using System.Globalization;

namespace PlaybookRunner.TestHost;

/// <summary>Runs the CLI exactly as <c>playbook</c> does, with the process tests' switches installed first.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        StopAtClaim? observer = null;
        if (int.TryParse(Environment.GetEnvironmentVariable("PLAYBOOK_TEST_STOP_AT_CLAIM"), NumberStyles.None, CultureInfo.InvariantCulture, out var stopAt))
        {
            // For the claims and fencing tests: stop right after the Nth claim, before the claim is checked and the action
            // executed, so that the test can kill the daemon or hold it past its lease at exactly that point.
            observer = new StopAtClaim(stopAt);
        }

        var exitCode = Cli.Program.Run(args, observer);
        // For the start-up tests: which assemblies this process loaded (a compile-cache hit must not load Roslyn).
        if (Environment.GetEnvironmentVariable("PLAYBOOK_DEBUG_LOADED_ASSEMBLIES") is { Length: > 0 } path)
        {
            File.WriteAllLines(path, AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name ?? "").Order(StringComparer.Ordinal));
        }

        return exitCode;
    }

    /// <summary>Stops this process (SIGSTOP) right after its Nth claim.</summary>
    private sealed class StopAtClaim(int stopAt) : Core.Execution.IExecutionObserver
    {
        private int _claims;

        public void Claimed(string idempotencyKey)
        {
            if (Interlocked.Increment(ref _claims) == stopAt)
            {
                // The test reads which action this process holds, to wait until another runner has taken it over.
                Console.Error.WriteLine($"test host: stopping at claim {idempotencyKey}");
                Console.Error.Flush();
                using var stop = Process.Start("kill", ["-STOP", Environment.ProcessId.ToString(CultureInfo.InvariantCulture)]);
                stop.WaitForExit();
            }
        }
    }
}
