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
