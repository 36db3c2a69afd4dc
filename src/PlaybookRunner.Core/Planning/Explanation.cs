using System.Globalization;
using PlaybookRunner.Core.Compilation;
using PlaybookRunner.Core.Evaluation;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Planning;

/// <summary>One part of a condition with its value for one customer; not evaluated when short-circuited.</summary>
public sealed record ExplainedPart(string Expression, int Depth, bool Evaluated, string? Value);

/// <summary>A named value shown by explain: a computed value or a segment (with its expression), or a let.</summary>
public sealed record ExplainedValue(string Name, string Expression, string? Value);

/// <summary>Why a rule does or does not fire for one customer (<c>playbook explain</c>).</summary>
public sealed record Explanation(
    string Playbook,
    string Rule,
    string Key,
    DateTimeOffset AsOf,
    string Condition,
    IReadOnlyList<ExplainedPart> Parts,
    IReadOnlyList<ExplainedValue> Segments,
    IReadOnlyList<ExplainedValue> Lets,
    string Cooldown,
    string Suppression,
    bool Fires,
    string Outcome)
{
    /// <summary>True when evaluating the rule for this key failed (the outcome says how): explain exits 1.</summary>
    public bool Failed { get; init; }

    /// <summary>The playbook's computed values (<c>values:</c>) for this customer, with their expressions.</summary>
    public IReadOnlyList<ExplainedValue> Values { get; init; } = [];

    /// <summary>For a rule the store follows (<c>for:</c>, <c>on_resolve:</c>): the hold of its condition for this customer; null otherwise.</summary>
    public string? Lifecycle { get; init; }
}

/// <summary>Builds explanations from what an instrumented evaluation recorded.</summary>
internal static class Explainer
{
    public static IReadOnlyList<ExplainedPart> Parts(CompiledWorkspace compiled, ExplainSink sink, PlaybookDefinition playbook, int ruleIndex, string key)
    {
        var nodes = compiled.ExplainNodes.TryGetValue((playbook.Id, playbook.Rules[ruleIndex].Id), out var n) ? n : [];
        var values = sink.Values.TryGetValue((playbook.Id, ruleIndex, key), out var v) ? v : [];
        return [.. nodes.Select(node => values.TryGetValue(node.Index, out var value)
            ? new ExplainedPart(node.Text, node.Depth, true, ExplainSink.Format(value))
            : new ExplainedPart(node.Text, node.Depth, false, null))];
    }

    /// <summary>A segment's or computed value's value as the instrumented evaluation recorded it (as rule <paramref name="rule"/>); null when it was not evaluated.</summary>
    private static string? Recorded(ExplainSink sink, string playbook, int rule, string key) =>
        sink.Values.TryGetValue((playbook, rule, key), out var values) && values.TryGetValue(0, out var value) ? ExplainSink.Format(value) : null;

    /// <summary>The hold of a followed rule's condition for one customer, as explain shows it.</summary>
    private static string Lifecycle(RuleDefinition rule, PlannedFinding? finding, (DateTimeOffset Since, DateTimeOffset? FiredAt)? hold)
    {
        var parts = new List<string>();
        if (rule.For is { } wait)
        {
            parts.Add($"for: {wait}");
        }

        parts.Add(finding switch
        {
            { IsResolution: true } => $"held since {DateFormats.FormatInstant(finding.PendingSince!.Value)}, fired {DateFormats.FormatInstant(finding.Resolves!.Value)}, no longer holds",
            { WaitingUntil: { } fires } => $"pending since {DateFormats.FormatInstant(finding.PendingSince!.Value)}, fires {DateFormats.FormatInstant(fires)}",
            { PendingSince: { } since } => $"held since {DateFormats.FormatInstant(since)}" + (hold?.FiredAt is { } fired ? $", fired {DateFormats.FormatInstant(fired)}" : ""),
            _ when hold is not null => $"held at the last evaluation (since {DateFormats.FormatInstant(hold.Value.Since)}), not now",
            _ => "not holding",
        });
        if (rule.OnResolve is { } resolve)
        {
            parts.Add($"on_resolve: {resolve.Actions.Count} action(s) when the condition stops holding after the rule fired");
        }

        return string.Join("; ", parts);
    }

    public static Explanation Explain(CompiledWorkspace compiled, ExplainSink sink, Plan plan, PlaybookDefinition playbook, int ruleIndex, string key, IFiringHistory history, WorkspaceDefinition workspace)
    {
        var rule = playbook.Rules[ruleIndex];
        var segments = playbook.Segments.Select((s, i) => new ExplainedValue(s.Name, s.Expression.Value, Recorded(sink, playbook.Id, -1 - i, key))).ToList();
        var computed = playbook.Values.Select((v, i) => new ExplainedValue(v.Name, v.Expression.Value, Recorded(sink, playbook.Id, CSharpSourceBuilder.ValueExplainBase - i, key))).ToList();
        var lets = playbook.Lets.Select((l, i) => new ExplainedValue(l.Name, l.Expression.Value,
            sink.Lets.TryGetValue((playbook.Id, i), out var value) ? ExplainSink.Format(value) : null)).ToList();

        var last = history.LastFired(playbook.Id, rule.Id, key);
        var cooldown = rule.Cooldown is not { } duration
            ? "none"
            : last is not { } at
                ? $"{duration}; never fired for {key}"
                : duration.AddTo(at, playbook.TimeZone) is var until && until > plan.AsOf
                    ? $"{duration}; last fired {DateFormats.FormatInstant(at)}, held back until {DateFormats.FormatInstant(until)}"
                    : $"{duration}; last fired {DateFormats.FormatInstant(at)}, over since {DateFormats.FormatInstant(until)}";
        if (history.LastDeadLetter(playbook.Id, rule.Id, key) is { } dead)
        {
            cooldown += $"; the firing of {DateFormats.FormatInstant(dead.FiredAt)} was not delivered (dead letter: {dead.Error.ReplaceLineEndings(" ")}) and starts no cooldown";
        }
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(plan.AsOf, playbook.TimeZone).DateTime);
        var suppression = workspace.Suppressions.FirstOrDefault(s => s.Covers(playbook.Id, rule.Id, key, today)) is { } covering
            ? $"suppressed{(covering.Until is { } u ? " until " + u.ToString(DateFormats.Date, CultureInfo.InvariantCulture) : "")}: {covering.Justification}"
            : "none";

        var finding = plan.Findings.FirstOrDefault(f => f.Playbook == playbook.Id && f.Rule == rule.Id && f.Key == key);
        var error = plan.Errors.FirstOrDefault(e => e.Playbook == playbook.Id && e.Rule == rule.Id && e.Key == key);
        var outcome = finding switch
        {
            { IsResolution: true, IsPending: true } => $"resolves: the condition no longer holds, {finding.Actions.Count} on_resolve action(s) would run",
            { IsResolution: true } => "resolves, but the resolution is suppressed: no action runs",
            { IsPending: true, Digests.Count: > 0 } => $"fires: {finding.Actions.Count} action(s) would run, and it is listed in {string.Join(", ", finding.Digests.Select(d => $"digest {d.Digest} for {d.Group}"))}",
            { IsPending: true } => $"fires: {finding.Actions.Count} action(s) would run",
            { WaitingUntil: { } fires } => $"the condition holds, but not yet for {rule.For}: it fires {DateFormats.FormatInstant(fires)} if it still holds then; no action runs yet",
            { Suppressed: true } => "the condition holds, but the finding is suppressed: no action runs",
            { InhibitedBy: { } inhibitor } => $"the condition holds, but rule '{inhibitor}' holds for this customer too and inhibits it: no action runs",
            { HeldBackUntil: { } heldUntil } => $"the condition holds, but the cooldown holds it back until {DateFormats.FormatInstant(heldUntil)}: no action runs",
            { Deferred: { } deferred } => $"the condition holds, but the {deferred.By} throttle defers it: number {deferred.Place} in its queue, it goes out on a later run",
            _ when error is not null => $"does not fire: {error.Message}",
            _ when Planner.EffectiveSeverity(workspace, playbook, rule) is null => "does not fire: the rule is turned off by severity_overrides (none)",
            _ => "does not fire: the condition is false",
        };
        return new Explanation(playbook.Id, rule.Id, key, plan.AsOf, rule.When.Value, Parts(compiled, sink, playbook, ruleIndex, key), segments, lets,
            cooldown, suppression, finding?.IsPending ?? false, outcome)
        {
            Failed = finding is null && error is not null,
            Values = computed,
            Lifecycle = rule.IsTracked ? Lifecycle(rule, finding, history.Holding(playbook.Id, rule.Id, key)) : null,
        };
    }
}
