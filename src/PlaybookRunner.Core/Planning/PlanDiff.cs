using System.Text;
using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Core.Planning;

/// <summary>One difference in a finding between the baseline plan and this one.</summary>
public sealed record FieldChange(string Path, string? Before, string? After);

/// <summary>A finding present in both plans whose state, message or actions changed.</summary>
public sealed record ChangedFinding(string Playbook, string Rule, string Key, IReadOnlyList<FieldChange> Changes);

/// <summary>A finding identified by playbook, rule and key.</summary>
public sealed record FindingId(string Playbook, string Rule, string Key)
{
    /// <inheritdoc />
    public override string ToString() => $"{Playbook}/{Rule} {Key}";
}

/// <summary>What changed against a baseline plan (<c>plan --baseline OLD.json</c>): the pull-request view of an edit.</summary>
public sealed record PlanChanges(string BaselineAsOf, IReadOnlyList<FindingId> Added, IReadOnlyList<FindingId> Removed, IReadOnlyList<ChangedFinding> Changed)
{
    /// <summary>True when nothing changed.</summary>
    public bool IsEmpty => Added.Count == 0 && Removed.Count == 0 && Changed.Count == 0;
}

/// <summary>
/// Compares two plans in their JSON form, finding by finding (playbook, rule, key): added, removed, and
/// changed state (pending, suppressed, held back), severity, message or rendered action fields.
/// </summary>
public static class PlanDiff
{
    private sealed record Snapshot(FindingId Id, SortedDictionary<string, string?> Values);

    /// <summary>Reads a baseline plan written by <c>plan --format json</c>; null with a diagnostic (file, line, column) when it is not one.</summary>
    public static Plan? ReadBaseline(string path, DiagnosticBag diagnostics) => PlanDocument.Load(path, DiagnosticDescriptors.BadBaseline, diagnostics);

    /// <summary>The changes from <paramref name="baseline"/> to <paramref name="plan"/>.</summary>
    public static PlanChanges Compare(Plan baseline, Plan plan)
    {
        var before = Snapshots(baseline);
        var after = Snapshots(plan);
        var added = after.Keys.Where(k => !before.ContainsKey(k)).ToList();
        var removed = before.Keys.Where(k => !after.ContainsKey(k)).ToList();
        var changed = new List<ChangedFinding>();
        foreach (var (id, now) in after.Where(a => before.ContainsKey(a.Key)))
        {
            var then = before[id];
            var paths = then.Values.Keys.Union(now.Values.Keys).Order(StringComparer.Ordinal);
            var changes = paths
                .Select(p => new FieldChange(p, then.Values.GetValueOrDefault(p), now.Values.GetValueOrDefault(p)))
                .Where(c => c.Before != c.After)
                .ToList();
            if (changes.Count > 0)
            {
                changed.Add(new ChangedFinding(id.Playbook, id.Rule, id.Key, changes));
            }
        }

        return new PlanChanges(DateFormats.FormatInstant(baseline.AsOf), added, removed, changed);
    }

    private static Dictionary<FindingId, Snapshot> Snapshots(Plan plan)
    {
        var result = new Dictionary<FindingId, Snapshot>();
        foreach (var finding in plan.Findings)
        {
            var id = new FindingId(finding.Playbook, finding.Rule, finding.Key);
            var values = new SortedDictionary<string, string?>(StringComparer.Ordinal)
            {
                ["state"] = finding.State switch
                {
                    FindingState.Suppressed => "suppressed",
                    FindingState.HeldBack => $"held back until {DateFormats.FormatInstant(finding.HeldBackUntil!.Value)}",
                    FindingState.Inhibited => $"inhibited by {finding.InhibitedBy}",
                    FindingState.Waiting => $"waiting until {DateFormats.FormatInstant(finding.WaitingUntil!.Value)}",
                    FindingState.Resolved => "resolved",
                    FindingState.Deferred => "deferred",
                    _ => "pending",
                },
                ["severity"] = Planner.SeverityName(finding.Severity),
                ["message"] = finding.Message,
            };
            for (var i = 0; i < finding.Actions.Count; i++)
            {
                values[$"actions[{i}].type"] = finding.Actions[i].Type;
                Flatten(finding.Actions[i].Fields, $"actions[{i}]", values);
            }

            result.TryAdd(id, new Snapshot(id, values));
        }

        return result;
    }

    private static void Flatten(IReadOnlyList<PlannedActionField> fields, string path, IDictionary<string, string?> values)
    {
        foreach (var field in fields)
        {
            var name = $"{path}.{field.Name}";
            if (field.Children is { } children)
            {
                Flatten(children, name, values);
            }
            else
            {
                values[name] = field.Flag is { } flag ? (flag ? "true" : "false") : field.Text ?? "null";
            }
        }
    }

    /// <summary>The changes for people: one line per finding, one indented line per changed field.</summary>
    public static string WriteText(PlanChanges changes)
    {
        var text = new StringBuilder();
        text.Append("Changes against the baseline plan as of ").Append(changes.BaselineAsOf).Append(": ")
            .Append(changes.Added.Count).Append(" added, ").Append(changes.Removed.Count).Append(" removed, ")
            .Append(changes.Changed.Count).Append(" changed\n");
        foreach (var id in changes.Added)
        {
            text.Append("  + ").Append(Diagnostics.SafeText.OneLine(id.ToString())).Append('\n');
        }

        foreach (var id in changes.Removed)
        {
            text.Append("  - ").Append(Diagnostics.SafeText.OneLine(id.ToString())).Append('\n');
        }

        foreach (var finding in changes.Changed)
        {
            text.Append("  ~ ").Append(finding.Playbook).Append('/').Append(finding.Rule).Append(' ').Append(Diagnostics.SafeText.OneLine(finding.Key)).Append('\n');
            foreach (var change in finding.Changes)
            {
                text.Append("      ").Append(change.Path).Append(": ").Append(Show(change.Before)).Append(" -> ").Append(Show(change.After)).Append('\n');
            }
        }

        return text.ToString();
    }

    /// <summary>A value on one line: quoted, line breaks escaped, long text shortened.</summary>
    internal static string Show(string? value)
    {
        if (value is null)
        {
            return "(none)";
        }

        var line = Diagnostics.SafeText.OneLine(value.Replace("\r\n", "\n", StringComparison.Ordinal));
        return "\"" + (line.Length > 160 ? string.Concat(line.AsSpan(0, 157), "...") : line) + "\"";
    }
}
