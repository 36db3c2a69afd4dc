namespace PlaybookRunner.Cli.Tests;

/// <summary>
/// The suite-wide secrets sweep that .ci/run runs after the tests (tests/scripts/canary-sweep.sh): it
/// must fail, naming the file, when a canary is anywhere in what it searches. This test uses its own
/// prefix, so that the real sweep over this run's files stays clean.
/// </summary>
public sealed class CanarySweepTests
{
    private static (int Code, string Out, string Err) Sweep(string prefix, params string[] paths) =>
        ProcessRunner.Run("env", [$"CANARY_PREFIX={prefix}", "bash", Path.Combine(CliRunner.RepoRoot, "tests", "scripts", "canary-sweep.sh"), .. paths]);

    [Fact]
    public void A_canary_anywhere_fails_the_sweep_and_names_the_file()
    {
        var prefix = "PBSWEEP" + "SELFTEST";
        var folder = Path.Combine(Path.GetTempPath(), "pb-sweep-" + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(Path.Combine(folder, "store"));
            File.WriteAllText(Path.Combine(folder, "plan.json"), "{ \"findings\": [] }");
            File.WriteAllBytes(Path.Combine(folder, "store", "state.db"), [0, 1, 2, 3]);
            Assert.Equal((0, "Canary sweep: no secret in 2 file(s)\n", ""), Sweep(prefix, folder));

            // A secret inside a binary file (a store page) is found as well as one in a log line.
            File.WriteAllBytes(Path.Combine(folder, "store", "state.db"), [0, 1, .. System.Text.Encoding.UTF8.GetBytes($"Bearer {prefix}-token-0123456789"), 0, 2]);
            var (code, stdout, stderr) = Sweep(prefix, folder);
            Assert.Equal((1, ""), (code, stdout));
            Assert.StartsWith("error: canary secrets found in 1 file(s):\n  " + Path.Combine(folder, "store", "state.db") + "\n", stderr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
