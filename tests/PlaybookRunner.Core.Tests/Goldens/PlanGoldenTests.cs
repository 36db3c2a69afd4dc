using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Core.Tests.Goldens;

/// <summary>plan --format json over the example playbooks, as of a fixed instant, equals a golden file byte for byte.</summary>
public sealed class PlanGoldenTests
{
    private static readonly DateTimeOffset AsOf = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Plan_of_the_examples_matches_the_golden_json()
    {
        var result = TestEngine.Plan([TestPaths.Playbooks], AsOf);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics.Select(d => d.Message)));
        var json = PlanDocument.Write(result.Plan!, TestPaths.RepoRoot);
        var golden = Path.Combine(TestPaths.Goldens, "examples.plan.json");
        if (TestPaths.UpdateGoldens)
        {
            File.WriteAllText(golden, json);
            return;
        }

        Assert.Equal(File.ReadAllText(golden), json);
    }

    [Fact]
    public void Two_plans_of_the_same_inputs_are_byte_identical()
    {
        var first = PlanDocument.Write(TestEngine.Plan([TestPaths.Playbooks], AsOf).Plan!, TestPaths.RepoRoot);
        var second = PlanDocument.Write(TestEngine.Plan([TestPaths.Playbooks], AsOf).Plan!, TestPaths.RepoRoot);
        Assert.Equal(first, second);
    }

    [Fact]
    public void Examples_validate_without_diagnostics()
    {
        var result = TestEngine.Validate([TestPaths.Playbooks], new FixedTimeProvider(AsOf));
        Assert.Empty(result.Diagnostics);
        Assert.Equal(3, result.Playbooks);
        Assert.Equal(8, result.Rules);
    }
}
