namespace PlaybookRunner.Cli.Tests;

/// <summary>
/// What the performance work promises that a test can check without timing anything: a compile-cache
/// hit never loads Roslyn, progress is never drawn into redirected output, and the benchmark runs
/// (in its smoke mode) with all three engines agreeing. Speed itself is measured by bench/.
/// </summary>
public sealed class PerformanceTests
{
    // The test host: the CLI plus the loaded-assembly list (PLAYBOOK_DEBUG_LOADED_ASSEMBLIES), which the product does not have.
    private static (int Code, string Out, string Err) Playbook(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        ProcessRunner.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "playbook-testhost.dll"), .. args], timeoutSeconds: 120, environment: environment);

    [Fact]
    public void A_compile_cache_hit_does_not_load_the_compiler()
    {
        var folder = Path.Combine(Path.GetTempPath(), "pb-cache-" + Guid.NewGuid().ToString("N"));
        try
        {
            var loaded = Path.Combine(folder, "loaded.txt");
            var environment = new Dictionary<string, string> { ["PLAYBOOK_CACHE_DIR"] = Path.Combine(folder, "cache"), ["PLAYBOOK_DEBUG_LOADED_ASSEMBLIES"] = loaded };

            Assert.Equal(0, Playbook(environment, "validate", CliRunner.Playbooks).Code);
            Assert.Contains("Microsoft.CodeAnalysis.CSharp", File.ReadAllLines(loaded));
            Assert.Single(Directory.GetFiles(Path.Combine(folder, "cache"), "*.pbc"));

            var again = Playbook(environment, "validate", CliRunner.Playbooks);
            Assert.Equal(0, again.Code);
            Assert.StartsWith("Validated 3 playbook(s), 8 rule(s): 0 error(s)", again.Out.Split('\n').Last(l => l.Length > 0), StringComparison.Ordinal);
            Assert.DoesNotContain(File.ReadAllLines(loaded), name => name.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal));

            var plan = Playbook(environment, "plan", CliRunner.Playbooks, "--format", "json", "--as-of", "2026-03-02T09:00:00Z");
            Assert.Equal((0, ""), (plan.Code, plan.Err));
            Assert.DoesNotContain(File.ReadAllLines(loaded), name => name.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal));
            Assert.Equal(File.ReadAllText(Path.Combine(CliRunner.RepoRoot, "tests", "PlaybookRunner.Core.Tests", "Goldens", "examples.plan.json")), CliRunner.WithoutProvenance(plan.Out));

            // explain's instrumented build is cached too (under its own key): the second explain loads no compiler, says the same.
            string[] explain = ["explain", "no-contact-30d", "C-1002", CliRunner.Playbooks, "--as-of", "2026-03-02T09:00:00Z"];
            var cold = Playbook(environment, explain);
            Assert.Equal(0, cold.Code);
            Assert.Contains("Microsoft.CodeAnalysis.CSharp", File.ReadAllLines(loaded));
            var warm = Playbook(environment, explain);
            Assert.Equal((0, cold.Out), (warm.Code, warm.Out));
            Assert.DoesNotContain(File.ReadAllLines(loaded), name => name.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal));
        }
        finally
        {
            TestCanary.DeleteFolder(folder);
        }
    }

    [Fact]
    public void Progress_is_never_drawn_into_redirected_output()
    {
        // Standard error is a pipe here, as in CI: a plan that runs well past the progress delay prints nothing extra.
        var folder = Path.Combine(Path.GetTempPath(), "pb-progress-" + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "p.yaml"), """
                playbook: p
                source: { kind: csv, path: data.csv, key: id, fields: { id: int, n: int } }
                rules:
                  - { id: r, when: n < 0 }
                """);
            File.WriteAllLines(Path.Combine(folder, "data.csv"), ["id,n", .. Enumerable.Range(1, 300_000).Select(i => $"{i},{i % 97}")]);
            var plan = Playbook(new Dictionary<string, string> { ["TERM"] = "xterm-256color" }, "plan", folder, "--as-of", "2026-03-02T09:00:00Z");
            Assert.Equal((0, ""), (plan.Code, plan.Err));
            Assert.Contains("Summary: 300000 records, 0 findings", plan.Out, StringComparison.Ordinal);
        }
        finally
        {
            TestCanary.DeleteFolder(folder);
        }
    }

    [Fact]
    public void Progress_sees_standard_error_behind_the_cli_s_safe_writer()
    {
        // The CLI wraps standard error in its SafeTextWriter: the check must see through it, or progress never shows on a terminal.
        Assert.True(PlaybookRunner.Cli.Commands.PlanProgress.WritesToConsoleError(new Core.Diagnostics.SafeTextWriter(Console.Error)));
        Assert.True(PlaybookRunner.Cli.Commands.PlanProgress.WritesToConsoleError(Console.Error));
        Assert.False(PlaybookRunner.Cli.Commands.PlanProgress.WritesToConsoleError(new Core.Diagnostics.SafeTextWriter(new StringWriter())));
    }

    // bin/<configuration>/net10.0/: the benchmark is built in the same configuration as the tests.
    private static string Bench => Path.Combine(CliRunner.RepoRoot, "bench", "PlaybookRunner.Benchmarks", "bin",
        Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar))!), "net10.0", "PlaybookRunner.Benchmarks.dll");

    [Fact]
    public void The_benchmark_runs_in_smoke_mode_and_the_engines_agree()
    {
        var folder = Path.Combine(Path.GetTempPath(), "pb-bench-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, stdout, stderr) = ProcessRunner.Run("dotnet", [Bench, "e2e", "--smoke", "--dir", folder], timeoutSeconds: 300);
            Assert.True(code == 0, stdout + stderr);
            Assert.Contains("All three engines found the same customers per rule.", stdout, StringComparison.Ordinal);
            Assert.Matches(@"playbook\s+[0-9.]+\s+[0-9.]+\s+[0-9]+\s+[0-9]+\s+[0-9]+\s+[0-9,]+", stdout);
        }
        finally
        {
            TestCanary.DeleteFolder(folder);
        }
    }

    [Fact]
    public void The_shape_benchmark_runs_in_smoke_mode_and_both_engines_write_the_same_findings_and_strings()
    {
        // The realistic shape (messages, an email and a webhook per rule) at the three firing rates: the floor's
        // findings, messages and rendered actions must be PlaybookRunner's, byte for byte.
        var folder = Path.Combine(Path.GetTempPath(), "pb-shape-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, stdout, stderr) = ProcessRunner.Run("dotnet", [Bench, "shape", "--smoke", "--rows", "5000", "--dir", folder], timeoutSeconds: 300);
            Assert.True(code == 0, stdout + stderr);
            Assert.Contains("Both engines wrote the same findings, messages and actions, byte for byte, at every rate.", stdout, StringComparison.Ordinal);
            Assert.Matches(@"100%\s+playbook\s+15,000\s+[0-9.]+", stdout);
        }
        finally
        {
            TestCanary.DeleteFolder(folder);
        }
    }

    [Theory]
    [InlineData("file", false)]
    [InlineData("webhook", false)]
    [InlineData("file", true)]
    [InlineData("webhook", true)]
    public void The_throughput_benchmark_runs_and_every_action_arrives_exactly_once(string kind, bool daemon)
    {
        // It fails itself unless every action succeeded and arrived once (a line each, or a request per key), for run and for a daemon's pass.
        var folder = Path.Combine(Path.GetTempPath(), "pb-throughput-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, stdout, stderr) = ProcessRunner.Run("dotnet", [Bench, "throughput", "--kind", kind, "--actions", "1500", "--repeat", "1", "--dir", folder, .. daemon ? new[] { "--daemon" } : []], timeoutSeconds: 300);
            Assert.True(code == 0, stdout + stderr);
            Assert.Matches($@"best execution: [0-9,]+ {kind} actions a second", stdout);
        }
        finally
        {
            TestCanary.DeleteFolder(folder);
        }
    }

    [Fact]
    public void The_start_up_benchmark_runs_against_the_built_program()
    {
        var folder = Path.Combine(Path.GetTempPath(), "pb-startup-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, stdout, stderr) = ProcessRunner.Run("dotnet", [Bench, "startup", "--playbook", Path.Combine(AppContext.BaseDirectory, "playbook.dll"), "--runs", "1", "--dir", folder], timeoutSeconds: 300);
            Assert.True(code == 0, stdout + stderr);
            Assert.Matches(@"validate 100 rules, cold compile\s+[0-9]+ ms", stdout);
            Assert.Equal(100, File.ReadAllLines(Path.Combine(folder, "startup.yaml")).Count(l => l.StartsWith("  - id: ", StringComparison.Ordinal)));
        }
        finally
        {
            TestCanary.DeleteFolder(folder);
        }
    }
}
