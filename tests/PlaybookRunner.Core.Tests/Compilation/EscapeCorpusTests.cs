using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Core.Tests.Compilation;

/// <summary>
/// Cases/007-escapes: conditions and templates that try to reach outside the record (files, processes,
/// environment, reflection, dynamic, unsafe, global::, directives, delegates, attributes, nameof,
/// Scriban .NET members). Their exact diagnostics are goldens (GoldenCaseTests); here: every one is
/// rejected at a location, and neither validate nor plan lets any of them do anything.
/// </summary>
public sealed class EscapeCorpusTests
{
    private const string Canary = "pb-escape-canary-5e1f";
    private const string CanaryFile = "/tmp/pbescape-canary";

    [Fact]
    public async Task Every_escape_attempt_is_rejected_with_a_location_and_has_no_effect()
    {
        var cases = Directory.EnumerateFiles(Path.Combine(TestPaths.Cases, "007-escapes"), "*.yaml").Order(StringComparer.Ordinal).ToList();
        Assert.True(cases.Count >= 40, $"only {cases.Count} escape attempts");
        File.Delete(CanaryFile);
        Environment.SetEnvironmentVariable("PB_ESCAPE_CANARY", Canary);
        try
        {
            foreach (var file in cases)
            {
                var validation = TestEngine.Validate([file]);
                Assert.False(validation.Success, file);
                Assert.All(validation.Diagnostics.Where(d => d.IsError), error =>
                    Assert.True(error.Location.Path == file && error.Location.Line > 0 && error.Location.Column > 0, DiagnosticFormatter.FormatText(error, TestPaths.Cases)));

                var plan = await TestEngine.PlanAsync([file], new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero));
                Assert.Null(plan.Plan);
                Assert.DoesNotContain(plan.Diagnostics, d => d.Message.Contains(Canary, StringComparison.Ordinal));
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable("PB_ESCAPE_CANARY", null);
        }

        Assert.False(File.Exists(CanaryFile), "an escape attempt created a file");
    }
}
