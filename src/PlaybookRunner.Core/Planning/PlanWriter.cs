using System.Text;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Planning;

/// <summary>Writes a plan for people: as text, Markdown or a self-contained HTML report (the JSON document is <see cref="PlanDocument"/>).</summary>
public static partial class PlanWriter
{
    /// <summary>A readable plan: findings grouped by playbook and rule, each action summarised; with a baseline, what changed against it first.</summary>
    public static string WriteText(PlanView view)
    {
        var text = new StringBuilder();
        text.Append("Plan as of ").Append(DateFormats.FormatInstant(view.AsOf)).Append("\n\n");
        if (view.Changes is { } changes)
        {
            text.Append(PlanDiff.WriteText(changes)).Append('\n');
        }

        foreach (var rule in view.Rules)
        {
            text.Append(rule.Playbook).Append('/').Append(rule.Rule)
                .Append(" (").Append(Planner.SeverityName(rule.Severity)).Append("): ")
                .Append(rule.Findings.Count).Append(rule.Findings.Count == 1 ? " finding\n" : " findings\n");
            foreach (var finding in rule.Findings)
            {
                var mark = finding.State switch
                {
                    FindingState.Suppressed => "~ ",
                    FindingState.HeldBack => "= ",
                    FindingState.Inhibited => "^ ",
                    FindingState.Waiting => ". ",
                    FindingState.Resolved => "- ",
                    FindingState.Deferred => "> ",
                    _ => "+ ",
                };
                text.Append("  ").Append(mark).Append(OneLine(finding.Key)).Append("  ").Append(OneLine(finding.Message)).Append('\n');
                if (finding.Values.Count > 0)
                {
                    text.Append("      values: ").Append(OneLine(finding.ValuesLine)).Append('\n');
                }

                if (finding.Resolves is { } firedAt)
                {
                    text.Append("      resolved: the condition no longer holds (it held since ").Append(DateFormats.FormatInstant(finding.PendingSince ?? firedAt))
                        .Append(", the rule fired ").Append(DateFormats.FormatInstant(firedAt)).Append(")\n");
                }
                else if (finding.WaitingUntil is { } fires)
                {
                    text.Append("      waiting: pending since ").Append(DateFormats.FormatInstant(finding.PendingSince ?? view.AsOf))
                        .Append(", fires ").Append(DateFormats.FormatInstant(fires)).Append(" if it still holds\n");
                }

                if (finding.Suppressed)
                {
                    text.Append("      suppressed: ").Append(OneLine(finding.Justification)).Append('\n');
                }
                else if (finding.InhibitedBy is { } inhibitor)
                {
                    text.Append("      inhibited by ").Append(OneLine(inhibitor)).Append(", which fires for this customer\n");
                }
                else if (finding.HeldBackUntil is { } until)
                {
                    text.Append("      held back by cooldown until ").Append(DateFormats.FormatInstant(until)).Append('\n');
                }
                else if (finding.Deferred is { } deferred)
                {
                    text.Append("      deferred by the ").Append(OneLine(deferred.By)).Append(" throttle: number ").Append(deferred.Place).Append(" in its queue, for a later run\n");
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

                foreach (var (digest, group) in finding.Digests)
                {
                    text.Append("      in digest ").Append(OneLine(digest)).Append(" for ").Append(OneLine(group)).Append('\n');
                }
            }

            text.Append('\n');
        }

        foreach (var digest in view.Plan.Digests)
        {
            text.Append("digest ").Append(OneLine(digest.Name)).Append(" for ").Append(OneLine(digest.Group)).Append(": ")
                .Append(digest.Findings.Count).Append(digest.Findings.Count == 1 ? " finding\n" : " findings\n")
                .Append("  * ").Append(string.Join(", ", digest.Findings.Take(10).Select(f => OneLine($"{f.Playbook}/{f.Rule} {f.Key}"))))
                .Append(digest.Findings.Count > 10 ? $" and {digest.Findings.Count - 10} more" : "").Append('\n')
                .Append("      ").Append(Summarise(digest.Action)).Append("\n\n");
        }

        foreach (var line in view.Problems)
        {
            text.Append(line).Append('\n');
        }

        if (view.Problems.Count > 0)
        {
            text.Append('\n');
        }

        var s = view.Summary;
        text.Append("Summary: ").Append(s.Records).Append(" records, ").Append(s.Findings).Append(" findings, ")
            .Append(s.Actions).Append(" actions pending, ").Append(s.Suppressed).Append(" suppressed, ").Append(s.HeldBack).Append(" held back, ")
            .Append(s.Errors).Append(" errors").Append(s.Inhibited > 0 ? $", {s.Inhibited} inhibited" : "")
            .Append(s.Waiting > 0 ? $", {s.Waiting} waiting" : "").Append(s.Resolved > 0 ? $", {s.Resolved} resolved" : "")
            .Append(s.Deferred > 0 ? $", {s.Deferred} deferred" : "").Append(s.Digests > 0 ? $", {s.Digests} digests" : "").Append('\n');
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
