using System.Text;
using System.Text.Json;
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
    public static JsonDocument? ReadBaseline(string path, DiagnosticBag diagnostics)
    {
        try
        {
            var document = JsonDocument.Parse(File.ReadAllBytes(path));
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("findings", out var findings) || findings.ValueKind != JsonValueKind.Array
                || !document.RootElement.TryGetProperty("asOf", out _))
            {
                document.Dispose();
                diagnostics.Add(DiagnosticDescriptors.BadBaseline, SourceLocation.At(path, 1, 1), "it is JSON, but not a plan (no asOf and findings[]); write it with plan --format json");
                return null;
            }

            return document;
        }
        catch (JsonException ex)
        {
            diagnostics.Add(DiagnosticDescriptors.BadBaseline, SourceLocation.At(path, (int)(ex.LineNumber ?? 0) + 1, (int)(ex.BytePositionInLine ?? 0) + 1),
                "not valid JSON: " + ex.Message.Split(" LineNumber:", StringSplitOptions.None)[0].TrimEnd('.'));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            diagnostics.Add(DiagnosticDescriptors.BadBaseline, SourceLocation.At(path, 0, 0), ex.Message.TrimEnd('.'));
        }

        return null;
    }

    /// <summary>The changes from <paramref name="baseline"/> to <paramref name="plan"/>.</summary>
    public static PlanChanges Compare(JsonDocument baseline, Plan plan)
    {
        using var current = JsonDocument.Parse(PlanWriter.WriteJson(plan, ""));
        var before = Snapshots(baseline.RootElement);
        var after = Snapshots(current.RootElement);
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

        var asOf = baseline.RootElement.GetProperty("asOf").GetString() ?? "";
        return new PlanChanges(asOf, added, removed, changed);
    }

    private static Dictionary<FindingId, Snapshot> Snapshots(JsonElement root)
    {
        var result = new Dictionary<FindingId, Snapshot>();
        foreach (var finding in root.GetProperty("findings").EnumerateArray())
        {
            string? Text(string name) => finding.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            var id = new FindingId(Text("playbook") ?? "", Text("rule") ?? "", Text("key") ?? "");
            var values = new SortedDictionary<string, string?>(StringComparer.Ordinal)
            {
                ["state"] = finding.TryGetProperty("suppressed", out var s) && s.ValueKind == JsonValueKind.True ? "suppressed"
                    : Text("heldBackUntil") is { } until ? $"held back until {until}" : "pending",
                ["severity"] = Text("severity"),
                ["message"] = Text("message"),
            };
            if (finding.TryGetProperty("actions", out var actions) && actions.ValueKind == JsonValueKind.Array)
            {
                var i = 0;
                foreach (var action in actions.EnumerateArray())
                {
                    Flatten(action, $"actions[{i++}]", values);
                }
            }

            result.TryAdd(id, new Snapshot(id, values));
        }

        return result;
    }

    private static void Flatten(JsonElement element, string path, IDictionary<string, string?> values)
    {
        foreach (var property in element.EnumerateObject())
        {
            var name = $"{path}.{property.Name}";
            if (property.Value.ValueKind == JsonValueKind.Object)
            {
                Flatten(property.Value, name, values);
            }
            else
            {
                values[name] = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : property.Value.GetRawText();
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
