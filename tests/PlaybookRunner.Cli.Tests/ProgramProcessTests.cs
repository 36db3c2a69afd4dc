
namespace PlaybookRunner.Cli.Tests;

/// <summary>End to end: the real built program, started as a process.</summary>
public sealed class ProgramProcessTests
{
    private static (int Code, string Out, string Err) Start(params string[] args) =>
        ProcessRunner.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "playbook.dll"), .. args], timeoutSeconds: 120);

    [Fact]
    public void Validate_and_plan_the_examples_from_the_repository_root()
    {
        // The real clock decides whether the example suppression has expired (a warning), so only errors are pinned here.
        var validate = Start("validate");
        Assert.Equal((0, ""), (validate.Code, validate.Err));
        Assert.StartsWith("Validated 3 playbook(s), 8 rule(s): 0 error(s)", validate.Out.Split('\n').Last(l => l.Length > 0), StringComparison.Ordinal);

        var plan = Start("plan", "--format", "json", "--as-of", "2026-03-02T09:00:00Z");
        Assert.Equal(0, plan.Code);
        Assert.Equal(File.ReadAllText(Path.Combine(CliRunner.RepoRoot, "tests", "PlaybookRunner.Core.Tests", "Goldens", "examples.plan.json")), CliRunner.WithoutProvenance(plan.Out));
    }

    [Fact]
    public void Version_prints_and_exits_zero()
    {
        var (code, stdout, _) = Start("--version");
        Assert.Equal(0, code);
        Assert.StartsWith("0.1.0", stdout, StringComparison.Ordinal);
    }
}
