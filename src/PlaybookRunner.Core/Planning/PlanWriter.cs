using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Planning;

/// <summary>Writes a plan as JSON (the stable contract of spec section 10), as text, Markdown or a self-contained HTML report.</summary>
public static partial class PlanWriter
{
    private static readonly JsonWriterOptions JsonOptions = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The JSON plan. Byte-identical for identical inputs. With <paramref name="changes"/>, a <c>changes</c> object compares it to a baseline.</summary>
    public static string WriteJson(Plan plan, string baseDirectory, PlanChanges? changes = null)
    {
        using var stream = new MemoryStream();
        WriteJson(stream, plan, baseDirectory, changes);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>The JSON plan written to <paramref name="stream"/> as it is produced (a file: no copy of the whole plan in memory), then a line break.</summary>
    public static void WriteJson(Stream stream, Plan plan, string baseDirectory, PlanChanges? changes = null)
    {
        using (var json = new Utf8JsonWriter(stream, JsonOptions))
        {
            json.WriteStartObject();
            json.WriteString("asOf", DateFormats.FormatInstant(plan.AsOf));
            json.WriteStartArray("findings");
            foreach (var f in plan.Findings)
            {
                if (json.BytesPending > 64 * 1024)
                {
                    // Out to the stream as it goes: a file never holds a second copy of the plan in memory.
                    json.Flush();
                }

                json.WriteStartObject();
                json.WriteString("playbook", f.Playbook);
                json.WriteString("rule", f.Rule);
                json.WriteString("key", f.Key);
                json.WriteString("severity", Planner.SeverityName(f.Severity));
                json.WriteString("message", f.Message);
                json.WriteBoolean("suppressed", f.Suppressed);
                if (f.Justification is not null)
                {
                    json.WriteString("justification", f.Justification);
                }

                if (f.HeldBackUntil is { } until)
                {
                    json.WriteString("heldBackUntil", DateFormats.FormatInstant(until));
                }

                if (f.DeadLetter is { } dead)
                {
                    json.WriteStartObject("deadLetter");
                    json.WriteString("firedAt", DateFormats.FormatInstant(dead.FiredAt));
                    json.WriteString("error", dead.Error);
                    json.WriteEndObject();
                }

                if (f.Explanation is { } parts)
                {
                    json.WriteStartArray("explain");
                    foreach (var part in parts)
                    {
                        json.WriteStartObject();
                        json.WriteString("expression", part.Expression);
                        json.WriteNumber("depth", part.Depth);
                        json.WriteBoolean("evaluated", part.Evaluated);
                        json.WriteString("value", part.Value);
                        json.WriteEndObject();
                    }

                    json.WriteEndArray();
                }

                json.WriteStartArray("actions");
                foreach (var action in f.Actions)
                {
                    json.WriteStartObject();
                    json.WriteString("type", action.Type);
                    foreach (var field in action.Fields)
                    {
                        WriteField(json, field);
                    }

                    json.WriteEndObject();
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartArray("errors");
            foreach (var e in plan.Errors)
            {
                json.WriteStartObject();
                json.WriteString("id", e.Id);
                json.WriteString("playbook", e.Playbook);
                json.WriteString("rule", e.Rule);
                json.WriteString("key", e.Key);
                json.WriteString("message", e.Message);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartArray("diagnostics");
            foreach (var d in plan.Diagnostics)
            {
                DiagnosticFormatter.WriteJsonDiagnostic(json, d, baseDirectory);
            }

            json.WriteEndArray();
            json.WriteStartObject("summary");
            json.WriteNumber("records", plan.Summary.Records);
            json.WriteNumber("findings", plan.Summary.Findings);
            json.WriteNumber("actions", plan.Summary.Actions);
            json.WriteNumber("suppressed", plan.Summary.Suppressed);
            json.WriteNumber("heldBack", plan.Summary.HeldBack);
            json.WriteNumber("errors", plan.Summary.Errors);
            json.WriteEndObject();
            if (changes is not null)
            {
                WriteChanges(json, changes);
            }

            if (plan.Provenance is { } provenance)
            {
                WriteProvenance(json, provenance);
            }

            json.WriteEndObject();
        }

        stream.WriteByte((byte)'\n');
    }

    private static void WriteProvenance(Utf8JsonWriter json, Provenance provenance)
    {
        json.WriteStartObject("provenance");
        json.WriteString("engine", provenance.Engine);
        json.WriteString("asOf", DateFormats.FormatInstant(provenance.AsOf));
        if (provenance.GitCommit is { } commit)
        {
            json.WriteString("gitCommit", commit);
        }

        json.WriteStartObject("workspace");
        json.WriteString("digest", provenance.WorkspaceDigest);
        json.WriteStartObject("files");
        foreach (var (file, digest) in provenance.Files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            json.WriteString(file, digest);
        }

        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteStartObject("sources");
        foreach (var (source, digest) in provenance.Sources.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            json.WriteString(source, digest);
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteChanges(Utf8JsonWriter json, PlanChanges changes)
    {
        json.WriteStartObject("changes");
        json.WriteString("baselineAsOf", changes.BaselineAsOf);
        foreach (var (name, ids) in new[] { ("added", changes.Added), ("removed", changes.Removed) })
        {
            json.WriteStartArray(name);
            foreach (var id in ids)
            {
                json.WriteStartObject();
                json.WriteString("playbook", id.Playbook);
                json.WriteString("rule", id.Rule);
                json.WriteString("key", id.Key);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        json.WriteStartArray("changed");
        foreach (var finding in changes.Changed)
        {
            json.WriteStartObject();
            json.WriteString("playbook", finding.Playbook);
            json.WriteString("rule", finding.Rule);
            json.WriteString("key", finding.Key);
            json.WriteStartArray("fields");
            foreach (var change in finding.Changes)
            {
                json.WriteStartObject();
                json.WriteString("path", change.Path);
                json.WriteString("before", change.Before);
                json.WriteString("after", change.After);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteField(Utf8JsonWriter json, PlannedActionField field)
    {
        if (field.Children is { } children)
        {
            json.WriteStartObject(field.Name);
            foreach (var child in children)
            {
                WriteField(json, child);
            }

            json.WriteEndObject();
        }
        else if (field.Flag is { } flag)
        {
            json.WriteBoolean(field.Name, flag);
        }
        else
        {
            json.WriteString(field.Name, field.Text);
        }
    }

    /// <summary>A readable plan: findings grouped by playbook and rule, each action summarised; with <paramref name="changes"/>, what changed against a baseline first.</summary>
    public static string WriteText(Plan plan, string baseDirectory, PlanChanges? changes = null)
    {
        var text = new StringBuilder();
        text.Append("Plan as of ").Append(DateFormats.FormatInstant(plan.AsOf)).Append("\n\n");
        if (changes is not null)
        {
            text.Append(PlanDiff.WriteText(changes)).Append('\n');
        }

        foreach (var group in plan.Findings.GroupBy(f => (f.Playbook, f.Rule)))
        {
            var first = group.First();
            text.Append(group.Key.Playbook).Append('/').Append(group.Key.Rule)
                .Append(" (").Append(Planner.SeverityName(first.Severity)).Append("): ")
                .Append(group.Count()).Append(group.Count() == 1 ? " finding\n" : " findings\n");
            foreach (var finding in group)
            {
                var mark = finding.State switch { FindingState.Suppressed => "~ ", FindingState.HeldBack => "= ", _ => "+ " };
                text.Append("  ").Append(mark).Append(OneLine(finding.Key)).Append("  ").Append(OneLine(finding.Message)).Append('\n');
                if (finding.Suppressed)
                {
                    text.Append("      suppressed: ").Append(OneLine(finding.Justification)).Append('\n');
                }
                else if (finding.HeldBackUntil is { } until)
                {
                    text.Append("      held back by cooldown until ").Append(DateFormats.FormatInstant(until)).Append('\n');
                }

                if (finding.DeadLetter is { } dead)
                {
                    text.Append("      ! the firing of ").Append(DateFormats.FormatInstant(dead.FiredAt)).Append(" was not delivered (dead letter: ")
                        .Append(OneLine(dead.Error)).Append("); it starts no cooldown, so this finding fires anew; to deliver the original actions instead, before the next run: playbook requeue --rule ")
                        .Append(ShellWord($"{finding.Playbook}/{finding.Rule}")).Append(" --key=").Append(ShellWord(finding.Key)).Append('\n');
                }

                foreach (var action in finding.Actions)
                {
                    text.Append("      ").Append(finding.IsPending ? "" : "(not run) ").Append(Summarise(action)).Append('\n');
                }
            }

            text.Append('\n');
        }

        foreach (var line in ErrorLines(plan.Errors, baseDirectory, ""))
        {
            text.Append(line).Append('\n');
        }

        foreach (var d in plan.Diagnostics)
        {
            text.Append(DiagnosticFormatter.FormatText(d, baseDirectory)).Append('\n');
        }

        if (plan.Errors.Count > 0 || plan.Diagnostics.Count > 0)
        {
            text.Append('\n');
        }

        var s = plan.Summary;
        text.Append("Summary: ").Append(s.Records).Append(" records, ").Append(s.Findings).Append(" findings, ")
            .Append(s.Actions).Append(" actions pending, ").Append(s.Suppressed).Append(" suppressed, ").Append(s.HeldBack).Append(" held back, ")
            .Append(s.Errors).Append(" errors\n");
        return text.ToString();
    }

    /// <summary>
    /// The plan's errors as lines: the ones run would certainly fail on once per template and problem, with the
    /// keys counted (preflight); each other error on a line of its own, after <paramref name="prefix"/>.
    /// </summary>
    public static IEnumerable<string> ErrorLines(IReadOnlyList<Diagnostic> errors, string baseDirectory, string prefix)
    {
        foreach (var group in PlanErrorGroup.Of(errors))
        {
            yield return group.Format(baseDirectory);
        }

        foreach (var error in errors.Where(e => e.Problem is null))
        {
            yield return $"{prefix}error {error.Id}: {error.Playbook}: {OneLine(error.Message)}";
        }
    }

    internal static string Summarise(PlannedAction action)
    {
        string? Field(string name) => action.Fields.FirstOrDefault(f => f.Name == name)?.Text;
        return ActionKind.Of(action.Type).Summary(Field);
    }

    /// <summary>A word to paste into a shell: as is when it is plain, else single-quoted (so a key from data cannot add a command).</summary>
    internal static string ShellWord(string text) =>
        text.Length > 0 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '/' or ':' or '@')
            ? text
            : "'" + OneLine(text).Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>Data on one line of a report: line breaks as spaces, every other control character escaped visibly.</summary>
    internal static string OneLine(string? text) => SafeText.ReportLine(text);
}
