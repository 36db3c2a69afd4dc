using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Planning;

/// <summary>One rule's findings in a report, with the counts the summary tables show.</summary>
public sealed record RuleFindings(string Playbook, string Rule, Severity Severity, IReadOnlyList<PlannedFinding> Findings)
{
    /// <summary>The actions <c>run</c> would execute for this rule.</summary>
    public int ActionsPending { get; } = Findings.Where(f => f.IsPending).Sum(f => f.Actions.Count);

    /// <summary>Findings covered by a suppression.</summary>
    public int Suppressed { get; } = Findings.Count(f => f.State == FindingState.Suppressed);

    /// <summary>Findings held back by the rule's cooldown.</summary>
    public int HeldBack { get; } = Findings.Count(f => f.State == FindingState.HeldBack);
}

/// <summary>One owner's findings in the worklist, with the counts of its summary row.</summary>
public sealed record OwnerFindings(string? Owner, IReadOnlyList<PlannedFinding> Findings)
{
    /// <summary>The actions <c>run</c> would execute for this owner's findings.</summary>
    public int ActionsPending { get; } = Findings.Where(f => f.IsPending).Sum(f => f.Actions.Count);

    /// <summary>Findings per severity.</summary>
    public int Count(Severity severity) => Findings.Count(f => f.Severity == severity && !f.IsResolution);
}

/// <summary>
/// What the reports for people show, computed once from a plan: the text, Markdown and HTML writers
/// (<see cref="PlanWriter"/>) render this view and compute nothing of their own, so they cannot disagree on a
/// count, an order, a state or an error line. The JSON document is the plan itself (<see cref="PlanDocument"/>).
/// </summary>
public sealed class PlanView
{
    /// <summary>Builds the view of <paramref name="plan"/>; file paths in error lines are shown relative to <paramref name="baseDirectory"/>.</summary>
    public PlanView(Plan plan, string baseDirectory, PlanChanges? changes = null)
    {
        Plan = plan;
        Changes = changes;
        Rules = [.. plan.Findings.GroupBy(f => (f.Playbook, f.Rule)).Select(g => new RuleFindings(g.Key.Playbook, g.Key.Rule, g.First().Severity, [.. g]))];
        Pending = [.. plan.Findings.Where(f => f.State == FindingState.Pending)];
        Suppressed = [.. plan.Findings.Where(f => f.State == FindingState.Suppressed)];
        HeldBack = [.. plan.Findings.Where(f => f.State == FindingState.HeldBack)];
        Inhibited = [.. plan.Findings.Where(f => f.State == FindingState.Inhibited)];
        Waiting = [.. plan.Findings.Where(f => f.State == FindingState.Waiting)];
        Resolved = [.. plan.Findings.Where(f => f.IsResolution)];
        Deferred = [.. plan.Findings.Where(f => f.State == FindingState.Deferred)];
        Problems = [.. PlanWriter.ErrorLines(plan.Errors, baseDirectory, ""), .. plan.Diagnostics.Select(d => DiagnosticFormatter.FormatText(d, baseDirectory))];
        var descending = plan.Report.Descending;
        Worklist = [.. plan.Findings.GroupBy(f => f.Owner ?? "")
            .OrderBy(g => g.Key.Length == 0).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new OwnerFindings(g.Key.Length == 0 ? null : g.Key, [.. g.OrderByDescending(f => f.Severity).ThenBy(f => f.SortValue, new LiteralOrder(descending))
                .ThenBy(f => f.Playbook, StringComparer.Ordinal).ThenBy(f => f.RuleIndex).ThenBy(f => f.Key, StringComparer.Ordinal)]))];
        if (changes is not null)
        {
            foreach (var id in changes.Added)
            {
                Marks[id] = "new";
            }

            foreach (var changed in changes.Changed)
            {
                Marks[new FindingId(changed.Playbook, changed.Rule, changed.Key)] = "changed";
            }
        }
    }

    /// <summary>
    /// The findings as a worklist: grouped by owner (runner.yaml <c>report: owner</c>; unowned last), each group ordered by
    /// severity (critical first), then <c>report: sort_by</c>, then the plan's order.
    /// </summary>
    public IReadOnlyList<OwnerFindings> Worklist { get; }

    /// <summary>With a baseline: <c>new</c> or <c>changed</c> for the findings that are, by identity.</summary>
    public Dictionary<FindingId, string> Marks { get; } = [];

    /// <summary>The baseline change of a finding (<c>new</c>, <c>changed</c>), or null.</summary>
    public string? MarkOf(PlannedFinding finding) => Marks.GetValueOrDefault(new FindingId(finding.Playbook, finding.Rule, finding.Key));

    /// <summary>Orders JSON literals of one value: numbers by value, text by ordinal, booleans false first; null last either way.</summary>
    private sealed class LiteralOrder(bool descending) : IComparer<string?>
    {
        public int Compare(string? x, string? y)
        {
            var a = x is null or "null" ? null : x;
            var b = y is null or "null" ? null : y;
            if (a is null || b is null)
            {
                return a is null ? (b is null ? 0 : 1) : -1;
            }

            var c = double.TryParse(a, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var p)
                && double.TryParse(b, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var q)
                ? p.CompareTo(q)
                : string.CompareOrdinal(a, b);
            return descending ? -c : c;
        }
    }

    /// <summary>The plan shown.</summary>
    public Plan Plan { get; }

    /// <summary>The instant the plan is for.</summary>
    public DateTimeOffset AsOf => Plan.AsOf;

    /// <summary>The plan's counts.</summary>
    public PlanSummary Summary => Plan.Summary;

    /// <summary>Every finding, in the plan's order (playbook, rule in file order, key).</summary>
    public IReadOnlyList<PlannedFinding> Findings => Plan.Findings;

    /// <summary>What changed against a baseline (<c>plan --baseline</c>), when one was given.</summary>
    public PlanChanges? Changes { get; }

    /// <summary>The findings per rule, in the plan's order.</summary>
    public IReadOnlyList<RuleFindings> Rules { get; }

    /// <summary>The findings whose actions <c>run</c> executes.</summary>
    public IReadOnlyList<PlannedFinding> Pending { get; }

    /// <summary>The findings a suppression covers.</summary>
    public IReadOnlyList<PlannedFinding> Suppressed { get; }

    /// <summary>The findings a cooldown holds back.</summary>
    public IReadOnlyList<PlannedFinding> HeldBack { get; }

    /// <summary>The findings another rule inhibits.</summary>
    public IReadOnlyList<PlannedFinding> Inhibited { get; }

    /// <summary>The findings whose rule's <c>for:</c> has not run out.</summary>
    public IReadOnlyList<PlannedFinding> Waiting { get; }

    /// <summary>The resolutions (<c>on_resolve:</c>), suppressed ones included.</summary>
    public IReadOnlyList<PlannedFinding> Resolved { get; }

    /// <summary>The findings a rollout throttle defers, in the plan's order.</summary>
    public IReadOnlyList<PlannedFinding> Deferred { get; }

    /// <summary>
    /// The plan's errors and diagnostics as lines, as every report prints them: an error run would certainly fail on
    /// once per template and problem with the keys counted, every other error and each diagnostic on a line of its own.
    /// </summary>
    public IReadOnlyList<string> Problems { get; }

    /// <summary>A finding's state as reports and filters name it: <c>pending</c>, <c>suppressed</c>, <c>held-back</c>, <c>inhibited</c>, <c>waiting</c> or <c>resolved</c>.</summary>
    public static string StateName(FindingState state) => state switch
    {
        FindingState.Suppressed => "suppressed",
        FindingState.HeldBack => "held-back",
        FindingState.Inhibited => "inhibited",
        FindingState.Waiting => "waiting",
        FindingState.Resolved => "resolved",
        FindingState.Deferred => "deferred",
        _ => "pending",
    };
}
