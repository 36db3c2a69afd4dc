using System.Globalization;
using System.Text;
using PlaybookRunner.Core.Model;

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
    public static string WriteMarkdown(PlanView view)
    {
        var md = new StringBuilder();
        var s = view.Summary;
        md.Append(CultureInfo.InvariantCulture, $"## Playbook plan as of {DateFormats.FormatInstant(view.AsOf)}\n\n");
        md.Append(CultureInfo.InvariantCulture,
            $"**{s.Actions} actions pending** from {s.Findings} findings over {s.Records} records; {s.Suppressed} suppressed, {s.HeldBack} held back by a cooldown, {s.Errors} errors{(s.Waiting > 0 ? $", {s.Waiting} waiting for for:" : "")}{(s.Resolved > 0 ? $", {s.Resolved} resolved" : "")}{(s.Deferred > 0 ? $", {s.Deferred} deferred by a throttle" : "")}.\n\n");
        md.Append("| Playbook | Rule | Severity | Findings | Actions pending | Suppressed | Held back |\n|---|---|---|---:|---:|---:|---:|\n");
        foreach (var rule in view.Rules)
        {
            md.Append(CultureInfo.InvariantCulture,
                $"| {rule.Playbook} | {rule.Rule} | {Planner.SeverityName(rule.Severity)} | {rule.Findings.Count} | {rule.ActionsPending} | {rule.Suppressed} | {rule.HeldBack} |\n");
        }

        if (view.Plan.Report.Owner is not null)
        {
            md.Append("\n| Owner | Findings | Critical | Warning | Info | Actions pending |\n|---|---:|---:|---:|---:|---:|\n");
            foreach (var owner in view.Worklist)
            {
                md.Append(CultureInfo.InvariantCulture,
                    $"| {Cell(owner.Owner ?? "(no owner)")} | {owner.Findings.Count} | {owner.Count(Severity.Critical)} | {owner.Count(Severity.Warning)} | {owner.Count(Severity.Info)} | {owner.ActionsPending} |\n");
            }
        }

        if (view.Changes is { } changes)
        {
            md.Append(CultureInfo.InvariantCulture,
                $"\nAgainst the baseline as of {changes.BaselineAsOf}: {changes.Added.Count} new and {changes.Changed.Count} changed (marked on the findings), {changes.Removed.Count} gone (listed at the end).\n");
        }

        // The pending findings as a worklist: per owner, critical first, then report: sort_by.
        var pending = view.Worklist.SelectMany(o => o.Findings.Where(f => f.State == FindingState.Pending).Select(f => (o.Owner, Finding: f))).ToList();
        md.Append(CultureInfo.InvariantCulture, $"\n### Pending findings ({pending.Count})\n\n");
        string? heading = null;
        foreach (var (owner, finding) in pending.Take(MarkdownFindingLimit))
        {
            if (view.Plan.Report.Owner is not null && (owner ?? "(no owner)") != heading)
            {
                heading = owner ?? "(no owner)";
                md.Append("#### ").Append(Inert(heading)).Append("\n\n");
            }

            var mark = view.MarkOf(finding) is { } m ? $"**{m}** · " : "";
            md.Append(CultureInfo.InvariantCulture, $"<details><summary>{mark}<b>{Inert(finding.Playbook)}/{Inert(finding.Rule)}</b> · <code>{Inert(finding.Key)}</code> · {Planner.SeverityName(finding.Severity)}: {Inert(finding.Message)}</summary>\n\n");
            if (view.Changes?.Changed.FirstOrDefault(c => c.Playbook == finding.Playbook && c.Rule == finding.Rule && c.Key == finding.Key) is { } changed)
            {
                foreach (var change in changed.Changes)
                {
                    md.Append(CultureInfo.InvariantCulture, $"- changed {Code(change.Path)}: {Code(PlanDiff.Show(change.Before))} → {Code(PlanDiff.Show(change.After))}\n");
                }

                md.Append('\n');
            }

            if (finding.Values.Count > 0)
            {
                md.Append("Values: ").Append(Cell(finding.ValuesLine)).Append("\n\n");
            }

            foreach (var action in finding.Actions)
            {
                md.Append("- ").Append(Cell(Summarise(action))).Append('\n');
                if (action.Fields.FirstOrDefault(f => f.Name == "body")?.Text is { } body)
                {
                    var lines = body.TrimEnd('\n').Split('\n').Select(l => Diagnostics.SafeText.OneLine(l.TrimEnd('\r'))).ToList();
                    var fence = Fence(lines);
                    md.Append("\n  ").Append(fence).Append(ActionKind.Of(action.Type).BodyFormat).Append('\n');
                    foreach (var line in lines)
                    {
                        md.Append("  ").Append(line).Append('\n');
                    }

                    md.Append("  ").Append(fence).Append('\n');
                }
            }

            md.Append("\n</details>\n\n");
        }

        if (pending.Count > MarkdownFindingLimit)
        {
            md.Append(CultureInfo.InvariantCulture, $"… and {pending.Count - MarkdownFindingLimit} more: see the full plan (`plan --format html` or `json`).\n\n");
        }

        Section(md, "Suppressed", view.Suppressed, ["Justification"], f => [Cell(f.Justification ?? "")]);
        Section(md, "Held back by a cooldown", view.HeldBack, ["Until"], f => [DateFormats.FormatInstant(f.HeldBackUntil!.Value)]);
        Section(md, "Inhibited by another rule", view.Inhibited, ["Inhibited by"], f => [CodeCell($"{f.Playbook}/{f.InhibitedBy}")]);
        Section(md, "Waiting for their rule's `for:`", view.Waiting, ["Pending since", "Fires"],
            f => [DateFormats.FormatInstant(f.PendingSince ?? view.AsOf), DateFormats.FormatInstant(f.WaitingUntil!.Value)]);
        Section(md, "Deferred by a rollout throttle", view.Deferred, ["Place", "Throttle"], f => [f.Deferred!.Value.Place.ToString(CultureInfo.InvariantCulture), Cell(f.Deferred.Value.By)]);
        Section(md, "Resolved: the condition no longer holds", view.Resolved, ["Fired", "Actions"],
            f => [DateFormats.FormatInstant(f.Resolves!.Value), f.IsPending ? f.Actions.Count.ToString(CultureInfo.InvariantCulture) : "suppressed"]);

        if (view.Changes is { Removed.Count: > 0 } gone)
        {
            md.Append(CultureInfo.InvariantCulture, $"### Gone since the baseline ({gone.Removed.Count})\n\n");
            foreach (var id in gone.Removed)
            {
                md.Append(CultureInfo.InvariantCulture, $"- :heavy_minus_sign: {Code(id.ToString())}\n");
            }

            md.Append('\n');
        }

        if (view.Plan.Digests is { Count: > 0 } digests)
        {
            md.Append(CultureInfo.InvariantCulture, $"### Digests ({digests.Count})\n\n| Digest | Group | Findings | Action |\n|---|---|---:|---|\n");
            foreach (var digest in digests)
            {
                md.Append(CultureInfo.InvariantCulture, $"| {CodeCell(digest.Name)} | {CodeCell(digest.Group)} | {digest.Findings.Count} | {Cell(Summarise(digest.Action))} |\n");
            }

            md.Append('\n');
        }

        if (view.Problems is { Count: > 0 } problems)
        {
            var fence = Fence(problems);
            md.Append("### Errors and warnings\n\n").Append(fence).Append("text\n");
            foreach (var line in problems)
            {
                md.Append(line).Append('\n');
            }

            md.Append(fence).Append('\n');
        }

        return md.ToString();
    }

    // The Markdown report is a pull-request comment: data (keys, messages, bodies, justifications) in it
    // can create no link, image, mention, HTML, table cell or code span end, and no new line (docs/security.md).

    /// <summary>Text inside the report's HTML (the findings' summaries): HTML-encoded, on one line, with no mention or autolink.</summary>
    private static string Inert(string? text) => Unlinked(OneLine(text))
        .Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
        .Replace(">", "&gt;", StringComparison.Ordinal).Replace("\"", "&quot;", StringComparison.Ordinal);

    /// <summary>Text in a Markdown table cell or list item: <see cref="Inert"/>, and every Markdown punctuation character backslash-escaped.</summary>
    private static string Cell(string? text)
    {
        var inert = Inert(text);
        var builder = new StringBuilder(inert.Length + 8);
        foreach (var c in inert)
        {
            if (c is '\\' or '`' or '*' or '_' or '[' or ']' or '(' or ')' or '!' or '~' or '|' or '<' or '>')
            {
                builder.Append('\\');
            }

            builder.Append(c);
        }

        return builder.ToString();
    }

    /// <summary>A code span that no backtick in <paramref name="text"/> can end (CommonMark: a longer run of backticks around it).</summary>
    private static string Code(string? text)
    {
        var line = OneLine(text);
        var ticks = new string('`', LongestRun(line, '`') + 1);
        var pad = line.StartsWith('`') || line.EndsWith('`') ? " " : "";
        return $"{ticks}{pad}{line}{pad}{ticks}";
    }

    /// <summary>A <see cref="Code"/> span inside a table row, where '|' would end the cell even in code.</summary>
    private static string CodeCell(string? text) => Code(text).Replace("|", "\\|", StringComparison.Ordinal);

    /// <summary>A table of findings not run, one per line: the finding, then <paramref name="columns"/> with <paramref name="cells"/>; nothing when there are none.</summary>
    private static void Section(StringBuilder md, string title, IReadOnlyList<PlannedFinding> findings, string[] columns, Func<PlannedFinding, string[]> cells)
    {
        if (findings.Count == 0)
        {
            return;
        }

        md.Append(CultureInfo.InvariantCulture, $"### {title} ({findings.Count})\n\n| Finding | {string.Join(" | ", columns)} |\n|---|{string.Concat(columns.Select(_ => "---|"))}\n");
        foreach (var finding in findings)
        {
            md.Append(CultureInfo.InvariantCulture, $"| {CodeCell($"{finding.Playbook}/{finding.Rule} {finding.Key}")} | {string.Join(" | ", cells(finding))} |\n");
        }

        md.Append('\n');
    }

    /// <summary>A code fence longer than any run of backticks in <paramref name="lines"/>, so none of them closes it.</summary>
    private static string Fence(IEnumerable<string> lines) => new('`', Math.Max(3, lines.Select(l => LongestRun(l, '`')).DefaultIfEmpty(0).Max() + 1));

    private static int LongestRun(string text, char c)
    {
        int longest = 0, run = 0;
        foreach (var x in text)
        {
            run = x == c ? run + 1 : 0;
            longest = Math.Max(longest, run);
        }

        return longest;
    }

    /// <summary>A word joiner after '@' and '#' and inside '://' and 'www.', so no mention, issue reference or autolink is made.</summary>
    private static string Unlinked(string text) => text
        .Replace("@", "@\u2060", StringComparison.Ordinal)
        .Replace("#", "#\u2060", StringComparison.Ordinal)
        .Replace("://", ":\u2060//", StringComparison.Ordinal)
        .Replace("www.", "www\u2060.", StringComparison.OrdinalIgnoreCase);
}
