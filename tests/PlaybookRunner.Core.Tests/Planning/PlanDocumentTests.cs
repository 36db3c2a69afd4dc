using System.Text.Json;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Core.Tests.Planning;

/// <summary>
/// One JSON document for a plan (<see cref="PlanDocument"/>): what <c>plan --format json</c> writes is what
/// <c>run --plan</c>, <c>plan --baseline</c> and the daemon's worker exchange read back, with nothing lost;
/// and one view (<see cref="PlanView"/>) that the text, Markdown and HTML reports render alike.
/// </summary>
public sealed class PlanDocumentTests
{
    private static readonly DateTimeOffset AsOf = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private static Plan Sample()
    {
        var email = new PlannedAction("email", [
            new PlannedActionField("to", "a@example.com", null, null),
            new PlannedActionField("subject", null, null, null),
            new PlannedActionField("html", null, true, null),
            new PlannedActionField("body", "Line one\nline \"two\" <b>é</b>", null, null),
        ]);
        var webhook = new PlannedAction("webhook", [
            new PlannedActionField("url", "http://127.0.0.1:9/x", null, null),
            new PlannedActionField("headers", null, null, [new PlannedActionField("X-Id", "A/1", null, null)]),
            new PlannedActionField("body", "{\"id\": \"A\"}", null, null),
        ]);
        var findings = new List<PlannedFinding>
        {
            new("p", "r", 0, "A", Severity.Critical, "Call \u2028 A", false, [email, webhook])
            {
                DeadLetter = (AsOf.AddDays(-3), "HTTP 503"),
                Explanation = [new ExplainedPart("x > 1", 0, true, "true"), new ExplainedPart("y", 1, false, null)],
            },
            new("p", "r", 0, "B", Severity.Critical, null, true, [email]) { Justification = "on hold" },
            new("p", "s", 1, "C", Severity.Info, "later", false, [webhook]) { HeldBackUntil = AsOf.AddDays(5) },
        };
        var template = new SourceLocation("/w/p.yaml", 7, 28, 7, 40);
        Diagnostic Error(string key) => Diagnostic.About(DiagnosticDescriptors.TemplateFailed, "p", "r", key, "email action 'to'", key, "not an address") with
        {
            Location = template,
            Problem = "rule 'r': email action 'to' renders something that is not one email address",
        };
        var errors = new List<Diagnostic>
        {
            Error("D"),
            Error("E"),
            Diagnostic.About(DiagnosticDescriptors.ConditionThrew, "p", "s", "F", "condition", "F", "boom"),
        };
        var diagnostics = new List<Diagnostic> { Diagnostic.Create(DiagnosticDescriptors.TemplateSyntax, new SourceLocation("/w/p.yaml", 3, 1, 3, 9), "a warning-like report") };
        return new Plan(AsOf, findings, errors, diagnostics, new PlanSummary(40, 3, 2, 1, 3) { HeldBack = 1 })
        {
            Provenance = new Provenance("playbook 1.0", AsOf, "abc123", "sha256:w", new Dictionary<string, string> { ["p.yaml"] = "sha256:p" }, new Dictionary<string, string> { ["crm"] = "sha256:c" }),
        };
    }

    private static Plan RoundTrip(Plan plan, string baseDirectory = "")
    {
        using var document = JsonDocument.Parse(PlanDocument.Write(plan, baseDirectory));
        return PlanDocument.Read(document.RootElement);
    }

    [Fact]
    public void A_plan_read_back_from_its_document_writes_the_same_bytes_and_keeps_every_member()
    {
        var plan = Sample();

        var read = RoundTrip(plan);

        Assert.Equal(PlanDocument.Write(plan, ""), PlanDocument.Write(read, ""));
        Assert.Equal(plan.Errors, read.Errors);
        Assert.Equal(plan.Diagnostics, read.Diagnostics);
        Assert.Equal(plan.Summary, read.Summary);
        Assert.Equal((AsOf.AddDays(-3), "HTTP 503"), read.Findings[0].DeadLetter);
        Assert.Equal(plan.Findings[0].Explanation, read.Findings[0].Explanation);
        Assert.Equal((FindingState.Suppressed, "on hold"), (read.Findings[1].State, read.Findings[1].Justification));
        Assert.Equal(AsOf.AddDays(5), read.Findings[2].HeldBackUntil);
        Assert.Equal(plan.Provenance!.Files, read.Provenance!.Files);
        Assert.Equal(-1, read.Findings[0].RuleIndex);
    }

    [Fact]
    public void Errors_keep_their_template_location_and_problem_so_every_reader_groups_them_as_the_writer_did()
    {
        var read = RoundTrip(Sample());

        var group = Assert.Single(PlanErrorGroup.Of(read.Errors));
        Assert.Equal((7, 28, "D,E"), (group.Location.Line, group.Location.Column, string.Join(',', group.Keys)));
        Assert.Equal(PlanWriter.ErrorLines(Sample().Errors, "/w", "").ToList(), PlanWriter.ErrorLines(read.Errors, "/w", "").ToList());
    }

    [Theory]
    [InlineData("""{"asOf": "2026-03-02T09:00:00Z", "findings": [], "errors": [{"id": "PB9999", "message": "forged"}]}""", "'PB9999' is not a diagnostic this version knows")]
    [InlineData("""{"asOf": "2026-03-02T09:00:00Z", "findings": [{"playbook": "p", "rule": "r", "actions": []}]}""", "a finding has no key")]
    [InlineData("""{"asOf": "2026-03-02T09:00:00Z", "findings": [{"playbook": "p", "rule": "r", "key": "A"}]}""", "a finding or an error is not in the plan's format (")]
    [InlineData("""{"asOf": "2026-03-02T09:00:00Z", "findings": [{"playbook": "p", "rule": "r", "key": "A", "actions": [{"to": "x"}]}]}""", "an action has no type")]
    [InlineData("""{"asOf": "2026-03-02T09:00:00Z", "findings": [{"playbook": "p", "rule": "r", "key": "A", "actions": [{"type": "email", "to": 5}]}]}""", "action field 'to' is neither text, a flag nor a map")]
    [InlineData("""{"asOf": "yesterday", "findings": []}""", "it is not a plan (no asOf and findings[])")]
    [InlineData("""[1, 2]""", "it is not a plan (no asOf and findings[])")]
    public void A_document_that_is_not_a_plan_is_refused_naming_what_is_wrong(string json, string expected)
    {
        using var document = JsonDocument.Parse(json);

        var error = Assert.Throws<FormatException>(() => PlanDocument.Read(document.RootElement));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_baseline_read_from_its_document_compares_finding_by_finding()
    {
        var plan = Sample();
        var baseline = RoundTrip(plan);
        var changed = plan with { Findings = [plan.Findings[0] with { Message = "Call A now" }, plan.Findings[2] with { HeldBackUntil = null }] };

        Assert.True(PlanDiff.Compare(baseline, plan).IsEmpty);
        var changes = PlanDiff.Compare(baseline, changed);
        Assert.Equal(["2026-03-02T09:00:00+00:00"], [changes.BaselineAsOf]);
        Assert.Equal([new FindingId("p", "r", "B")], changes.Removed);
        Assert.Equal(
            ["p/r A message", "p/s C state"],
            changes.Changed.SelectMany(c => c.Changes.Select(f => $"{c.Playbook}/{c.Rule} {c.Key} {f.Path}")));
    }

    [Fact]
    public void The_text_markdown_and_html_reports_show_the_same_error_lines_and_counts_from_one_view()
    {
        var view = new PlanView(Sample(), "/w");

        Assert.Equal(["p.yaml(7,28): error PB5002: rule 'r': email action 'to' renders something that is not one email address (2 keys: D, E)"], view.Problems.Take(1));
        Assert.Equal(3, view.Problems.Count);
        foreach (var report in new[] { PlanWriter.WriteText(view), PlanWriter.WriteMarkdown(view), PlanWriter.WriteHtml(view) })
        {
            Assert.Contains("(2 keys: D, E)", report, StringComparison.Ordinal);
            Assert.Contains("error PB5001: p: ", report, StringComparison.Ordinal);
        }

        Assert.Equal([("p", "r", 2, 1, 0), ("p", "s", 0, 0, 1)], view.Rules.Select(r => (r.Playbook, r.Rule, r.ActionsPending, r.Suppressed, r.HeldBack)));
        Assert.Equal("A | B | C", $"{string.Join(',', view.Pending.Select(f => f.Key))} | {string.Join(',', view.Suppressed.Select(f => f.Key))} | {string.Join(',', view.HeldBack.Select(f => f.Key))}");
    }
}
