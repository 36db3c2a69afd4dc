using System.Runtime.InteropServices;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Planning;

/// <summary>One field of a rendered action: text, a flag, or a map of texts (headers).</summary>
public sealed record PlannedActionField(string Name, string? Text, bool? Flag, IReadOnlyList<PlannedActionField>? Children);

/// <summary>An action as it would be executed, every template rendered.</summary>
public sealed record PlannedAction(string Type, IReadOnlyList<PlannedActionField> Fields);

/// <summary>A rule that holds for one customer.</summary>
public sealed record PlannedFinding(
    string Playbook,
    string Rule,
    int RuleIndex,
    string Key,
    Severity Severity,
    string? Message,
    bool Suppressed,
    IReadOnlyList<PlannedAction> Actions)
{
    /// <summary>Why it is suppressed (suppressions.yaml), when it is.</summary>
    public string? Justification { get; init; }

    /// <summary>When the rule's cooldown for this customer ends, if the finding is held back by it.</summary>
    public DateTimeOffset? HeldBackUntil { get; init; }

    /// <summary>
    /// The latest firing for this customer that delivered nothing (all its actions dead letters), when it is
    /// later than the last delivered one: it does not start a cooldown, so the finding runs again.
    /// </summary>
    public (DateTimeOffset FiredAt, string Error)? DeadLetter { get; init; }

    /// <summary>The folder of the playbook's file: file action paths are relative to it.</summary>
    public string BaseDirectory { get; init; } = "";

    /// <summary>
    /// The playbook's computed values (<c>values:</c>) for this customer, in file order, each as a JSON literal: a
    /// number, <c>true</c>/<c>false</c>, <c>null</c>, or a string (text, and dates as the plan writes them).
    /// </summary>
    public IReadOnlyList<(string Name, string Json)> Values { get; init; } = [];

    /// <summary>The computed values on one line for people: <c>days_silent = 34, owner = "Ana"</c>.</summary>
    public string ValuesLine => string.Join(", ", Values.Select(v => $"{v.Name} = {v.Json}"));

    /// <summary>With <c>plan --explain</c>: the value of each part of the rule's condition for this customer.</summary>
    public IReadOnlyList<ExplainedPart>? Explanation { get; init; }

    /// <summary>The rule of the same playbook that holds for this customer and inhibits this one (<c>inhibits:</c>), if any.</summary>
    public string? InhibitedBy { get; init; }

    /// <summary>For a rule with <c>for:</c>: since when its condition has held for this customer at every evaluation.</summary>
    public DateTimeOffset? PendingSince { get; init; }

    /// <summary>For a rule with <c>for:</c> whose condition has not held long enough yet: when it fires if it keeps holding.</summary>
    public DateTimeOffset? WaitingUntil { get; init; }

    /// <summary>
    /// Set for a resolution, not a finding: the rule's condition no longer holds for this customer, and the rule fired
    /// for them (at this instant) during the hold that ended; the message and actions are its <c>on_resolve:</c>.
    /// </summary>
    public DateTimeOffset? Resolves { get; init; }

    /// <summary>
    /// Set when a rollout throttle holds this finding for a later run: its place in the queue (1 goes out first) and the
    /// throttle (<c>rule</c>, or <c>channel NAME</c>).
    /// </summary>
    public (int Place, string By)? Deferred { get; init; }

    /// <summary>Who owns the customer (runner.yaml <c>report: owner</c>): the worklist group; null when the playbook has no such name or it is empty.</summary>
    public string? Owner { get; init; }

    /// <summary>The value the worklist orders by after severity (runner.yaml <c>report: sort_by</c>), as a JSON literal; null without one.</summary>
    public string? SortValue { get; init; }

    /// <summary>The digests (runner.yaml <c>digests:</c>) this finding is listed in, each with its group.</summary>
    public IReadOnlyList<(string Digest, string Group)> Digests { get; init; } = [];

    /// <summary>True for a resolution (<see cref="Resolves"/>).</summary>
    public bool IsResolution => Resolves is not null;

    /// <summary>True when <c>run</c> would execute this finding's actions (a finding that fires, or a resolution).</summary>
    public bool IsPending => State is FindingState.Pending or FindingState.Resolved;

    /// <summary>What <c>run</c> does with this finding: executes its actions, or holds it back (suppressed, inhibited, waiting, cooldown).</summary>
    public FindingState State =>
        Suppressed ? FindingState.Suppressed
        : Resolves is not null ? FindingState.Resolved
        : InhibitedBy is not null ? FindingState.Inhibited
        : WaitingUntil is not null ? FindingState.Waiting
        : HeldBackUntil is not null ? FindingState.HeldBack
        : Deferred is not null ? FindingState.Deferred
        : FindingState.Pending;
}

/// <summary>What <c>run</c> does with a finding.</summary>
public enum FindingState
{
    /// <summary>Its actions run.</summary>
    Pending,

    /// <summary>A suppression in suppressions.yaml covers it: nothing runs.</summary>
    Suppressed,

    /// <summary>The rule's cooldown for this customer has not ended: nothing runs yet.</summary>
    HeldBack,

    /// <summary>Another rule that holds for this customer silences this one (<c>inhibits:</c>): nothing runs.</summary>
    Inhibited,

    /// <summary>The condition holds, but not yet for the rule's <c>for:</c> duration: nothing runs yet.</summary>
    Waiting,

    /// <summary>A resolution: the condition stopped holding after the rule fired; its <c>on_resolve:</c> actions run.</summary>
    Resolved,

    /// <summary>A rollout throttle (<c>throttle:</c> of its rule or channel) holds it for a later run: nothing runs now.</summary>
    Deferred,
}

/// <summary>The per-key errors that share a template and a problem, reported once with the keys counted (preflight).</summary>
public sealed record PlanErrorGroup(string Id, string Playbook, SourceLocation Location, string Problem, IReadOnlyList<string> Keys)
{
    /// <summary>The errors of <paramref name="errors"/> that have a problem (and its location), grouped; the others are left out.</summary>
    public static IReadOnlyList<PlanErrorGroup> Of(IEnumerable<Diagnostic> errors) =>
    [
        .. errors.Where(e => e.Problem is not null)
            .GroupBy(e => (e.Id, Playbook: e.Playbook ?? "", e.Location, e.Problem!))
            .Select(g => new PlanErrorGroup(g.Key.Id, g.Key.Playbook, g.Key.Item3, g.Key.Item4, [.. g.Select(e => e.Key ?? "").Order(StringComparer.Ordinal)])),
    ];

    /// <summary><c>p.yaml(12,9): error PB5002: rule 'r': webhook action 'body' ... (3 keys: A, B, C)</c>.</summary>
    public string Format(string baseDirectory)
    {
        var sample = string.Join(", ", Keys.Take(5).Select(k => Diagnostics.SafeText.OneLine(k)));
        var keys = Keys.Count == 1 ? $"key {sample}" : $"{Keys.Count} keys: {sample}{(Keys.Count > 5 ? ", ..." : "")}";
        var where = Location.HasPath ? $"{Diagnostics.DiagnosticFormatter.DisplayPath(Location.Path, baseDirectory)}({Location.Line},{Location.Column})" : Playbook;
        return $"{where}: error {Id}: {Diagnostics.SafeText.OneLine(Problem)} ({keys})";
    }
}

/// <summary>Counts for the plan's summary.</summary>
public sealed record PlanSummary(int Records, int Findings, int Actions, int Suppressed, int Errors)
{
    /// <summary>Findings held back by a cooldown.</summary>
    public int HeldBack { get; init; }

    /// <summary>Findings another rule inhibits.</summary>
    public int Inhibited { get; init; }

    /// <summary>Findings whose condition has not held for their rule's <c>for:</c> duration yet.</summary>
    public int Waiting { get; init; }

    /// <summary>Resolutions (<c>on_resolve:</c>); they are not counted in <see cref="Findings"/>, their actions are in <see cref="Actions"/>.</summary>
    public int Resolved { get; init; }

    /// <summary>Findings a rollout throttle defers to a later run.</summary>
    public int Deferred { get; init; }

    /// <summary>Digest actions (one per digest and group); their actions are counted in <see cref="Actions"/>.</summary>
    public int Digests { get; init; }
}

/// <summary>What <c>plan</c> computed: the contract of <c>plan --format json</c> (spec section 10).</summary>
public sealed record Plan(
    DateTimeOffset AsOf,
    IReadOnlyList<PlannedFinding> Findings,
    IReadOnlyList<Diagnostic> Errors,
    IReadOnlyList<Diagnostic> Diagnostics,
    PlanSummary Summary)
{
    /// <summary>What the plan was made from, for a saved plan (<c>plan --format json</c>); see <see cref="Planning.Provenance"/>.</summary>
    public Provenance? Provenance { get; init; }

    /// <summary>
    /// The pending actions counted as the planner made the findings; null for a plan read back or narrowed
    /// (then <see cref="PendingActions.Of(Plan)"/> counts them from the findings).
    /// </summary>
    public PendingActions? Pending { get; init; }

    /// <summary>
    /// The rules the state store follows (<c>for:</c>, <c>on_resolve:</c>) that this plan evaluated for every customer,
    /// as <c>playbook/rule</c>: recording the plan (<c>run</c>) marks their latest evaluation, so that a customer
    /// whose condition did not hold in it starts a new hold next time. Empty when the plan was narrowed to keys.
    /// </summary>
    public IReadOnlyList<string> Tracked { get; init; } = [];

    /// <summary>The digests' actions (runner.yaml <c>digests:</c>), one per digest and group, in name and group order.</summary>
    public IReadOnlyList<PlannedDigest> Digests { get; init; } = [];

    /// <summary>
    /// Closes the spill files of a large plan's findings (<see cref="FindingSpool"/>) once nothing reads them any more; they
    /// are unlinked already, so this frees their space at once rather than when the finalizer runs. A no-op otherwise.
    /// </summary>
    public void ReleaseFindings() => (Findings as IDisposable)?.Dispose();

    /// <summary>How reports present the findings as a worklist (runner.yaml <c>report:</c>).</summary>
    public ReportDefinition Report { get; init; } = ReportDefinition.Default;

    /// <summary>The folder digests' file action paths are relative to (runner.yaml's); set when the plan is made or bound to a workspace.</summary>
    public string? DigestDirectory { get; init; }
}

/// <summary>The actions <c>run</c> would execute, counted per playbook and per channel: what the blast-radius guard and preflight check.</summary>
public sealed record PendingActions(IReadOnlyDictionary<string, int> ByPlaybook, IReadOnlyDictionary<string, int> ByChannel)
{
    /// <summary>The plan's counts: as the planner made them, or counted from its findings (one pass).</summary>
    public static PendingActions Of(Plan plan)
    {
        if (plan.Pending is { } counted)
        {
            return counted;
        }

        var tally = new PendingTally();
        foreach (var finding in plan.Findings)
        {
            tally.Add(finding);
        }

        foreach (var digest in plan.Digests)
        {
            tally.Add("digests", digest.Action);
        }

        return tally.Result();
    }
}

/// <summary>Counts pending actions per playbook and per channel, one finding at a time.</summary>
internal sealed class PendingTally
{
    private readonly Dictionary<string, int> _playbooks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _channels = new(StringComparer.Ordinal);

    public void Add(PlannedFinding finding)
    {
        if (!finding.IsPending)
        {
            return;
        }

        CollectionsMarshal.GetValueRefOrAddDefault(_playbooks, finding.Playbook, out _) += finding.Actions.Count;
        foreach (var action in finding.Actions)
        {
            AddChannel(action);
        }
    }

    /// <summary>One action counted under <paramref name="owner"/> (a digest's: <c>digests</c>) and its channel.</summary>
    public void Add(string owner, PlannedAction action)
    {
        _playbooks[owner] = _playbooks.GetValueOrDefault(owner) + 1;
        AddChannel(action);
    }

    private void AddChannel(PlannedAction action)
    {
        string? named = null;
        foreach (var field in action.Fields)
        {
            if (field.Name == "channel")
            {
                named = field.Text;
                break;
            }
        }

        if (ActionKind.Of(action.Type).ChannelOf(named) is { } channel)
        {
            CollectionsMarshal.GetValueRefOrAddDefault(_channels, channel, out _)++;
        }
    }

    public PendingActions Result() => new(new Dictionary<string, int>(_playbooks, StringComparer.Ordinal), new Dictionary<string, int>(_channels, StringComparer.Ordinal));
}
