using System.Globalization;
using System.Text;

namespace PlaybookRunner.Core.Planning;

public static partial class PlanWriter
{
    /// <summary>How many findings the Markdown report shows in full (CI step summaries and PR comments have size limits).</summary>
    public const int MarkdownFindingLimit = 50;

    /// <summary>
    /// A Markdown report for CI step summaries and pull-request comments: counts per playbook and rule,
    /// what changed against a baseline, the first <see cref="MarkdownFindingLimit"/> pending findings with
    /// their rendered actions, and the suppressed and held-back findings.
    /// </summary>
    public static string WriteMarkdown(Plan plan, string baseDirectory, PlanChanges? changes = null)
    {
        var md = new StringBuilder();
        var s = plan.Summary;
        md.Append(CultureInfo.InvariantCulture, $"## Playbook plan as of {Planner.FormatInstant(plan.AsOf)}\n\n");
        md.Append(CultureInfo.InvariantCulture,
            $"**{s.Actions} actions pending** from {s.Findings} findings over {s.Records} records; {s.Suppressed} suppressed, {s.HeldBack} held back by a cooldown, {s.Errors} errors.\n\n");
        md.Append("| Playbook | Rule | Severity | Findings | Actions pending | Suppressed | Held back |\n|---|---|---|---:|---:|---:|---:|\n");
        foreach (var group in plan.Findings.GroupBy(f => (f.Playbook, f.Rule)))
        {
            md.Append(CultureInfo.InvariantCulture,
                $"| {Cell(group.Key.Playbook)} | {Cell(group.Key.Rule)} | {Planner.SeverityName(group.First().Severity)} | {group.Count()} | {group.Where(f => f.IsPending).Sum(f => f.Actions.Count)} | {group.Count(f => f.Suppressed)} | {group.Count(f => !f.Suppressed && f.HeldBackUntil is not null)} |\n");
        }

        if (changes is not null)
        {
            md.Append(CultureInfo.InvariantCulture,
                $"\n### Changes against the baseline ({changes.BaselineAsOf})\n\n{changes.Added.Count} added, {changes.Removed.Count} removed, {changes.Changed.Count} changed.\n\n");
            foreach (var id in changes.Added)
            {
                md.Append(CultureInfo.InvariantCulture, $"- :heavy_plus_sign: `{id}`\n");
            }

            foreach (var id in changes.Removed)
            {
                md.Append(CultureInfo.InvariantCulture, $"- :heavy_minus_sign: `{id}`\n");
            }

            foreach (var finding in changes.Changed)
            {
                md.Append(CultureInfo.InvariantCulture, $"- :pencil2: `{finding.Playbook}/{finding.Rule} {finding.Key}`\n");
                foreach (var change in finding.Changes)
                {
                    md.Append(CultureInfo.InvariantCulture, $"  - `{change.Path}`: {Cell(PlanDiff.Show(change.Before))} → {Cell(PlanDiff.Show(change.After))}\n");
                }
            }
        }

        var pending = plan.Findings.Where(f => f.IsPending).ToList();
        md.Append(CultureInfo.InvariantCulture, $"\n### Pending findings ({pending.Count})\n\n");
        foreach (var finding in pending.Take(MarkdownFindingLimit))
        {
            md.Append(CultureInfo.InvariantCulture, $"<details><summary><b>{M(finding.Playbook)}/{M(finding.Rule)}</b> · {M(finding.Key)} · {Planner.SeverityName(finding.Severity)}: {M(OneLine(finding.Message))}</summary>\n\n");
            foreach (var action in finding.Actions)
            {
                md.Append("- ").Append(Cell(Summarise(action))).Append('\n');
                if (action.Fields.FirstOrDefault(f => f.Name == "body")?.Text is { } body)
                {
                    md.Append("\n  ```").Append(action.Type == "webhook" ? "json" : "text").Append('\n');
                    foreach (var line in body.TrimEnd('\n').Split('\n'))
                    {
                        md.Append("  ").Append(line.Replace("```", "`\u200b``", StringComparison.Ordinal)).Append('\n');
                    }

                    md.Append("  ```\n");
                }
            }

            md.Append("\n</details>\n\n");
        }

        if (pending.Count > MarkdownFindingLimit)
        {
            md.Append(CultureInfo.InvariantCulture, $"… and {pending.Count - MarkdownFindingLimit} more: see the full plan (`plan --format html` or `json`).\n\n");
        }

        var suppressed = plan.Findings.Where(f => f.Suppressed).ToList();
        if (suppressed.Count > 0)
        {
            md.Append(CultureInfo.InvariantCulture, $"### Suppressed ({suppressed.Count})\n\n| Finding | Justification |\n|---|---|\n");
            foreach (var finding in suppressed)
            {
                md.Append(CultureInfo.InvariantCulture, $"| `{finding.Playbook}/{finding.Rule} {finding.Key}` | {Cell(finding.Justification ?? "")} |\n");
            }

            md.Append('\n');
        }

        var heldBack = plan.Findings.Where(f => !f.Suppressed && f.HeldBackUntil is not null).ToList();
        if (heldBack.Count > 0)
        {
            md.Append(CultureInfo.InvariantCulture, $"### Held back by a cooldown ({heldBack.Count})\n\n| Finding | Until |\n|---|---|\n");
            foreach (var finding in heldBack)
            {
                md.Append(CultureInfo.InvariantCulture, $"| `{finding.Playbook}/{finding.Rule} {finding.Key}` | {Planner.FormatInstant(finding.HeldBackUntil!.Value)} |\n");
            }

            md.Append('\n');
        }

        if (plan.Errors.Count > 0 || plan.Diagnostics.Count > 0)
        {
            md.Append("### Errors and warnings\n\n```text\n");
            foreach (var error in plan.Errors)
            {
                md.Append(CultureInfo.InvariantCulture, $"error {error.Id}: {error.Playbook}: {error.Message}\n");
            }

            foreach (var diagnostic in plan.Diagnostics)
            {
                md.Append(Diagnostics.DiagnosticFormatter.FormatText(diagnostic, baseDirectory)).Append('\n');
            }

            md.Append("```\n");
        }

        return md.ToString();
    }

    /// <summary>Text safe inside a Markdown table cell.</summary>
    private static string Cell(string text) => M(OneLine(text)).Replace("|", "\\|", StringComparison.Ordinal);

    /// <summary>Text safe in Markdown that allows inline HTML: only &amp;, &lt; and &gt; are escaped, so quotes stay readable.</summary>
    private static string M(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
}
