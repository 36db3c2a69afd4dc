using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Planning;

public static partial class PlanWriter
{
    private const string Style = """
        body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
        header,main{max-width:1100px;margin:0 auto;padding:1rem 1.5rem}header{background:#1d3557;color:#fff;max-width:none}
        header p{margin:.2rem 0 0;opacity:.85}h2{margin-top:2rem}table{border-collapse:collapse;background:#fff}
        th,td{border:1px solid #d8dde3;padding:.35rem .6rem;text-align:left;vertical-align:top}th{background:#eef1f5}
        .cards{display:flex;gap:1rem;flex-wrap:wrap}.card{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:.6rem 1rem;min-width:8rem}
        .card b{display:block;font-size:1.6rem}#filters{display:flex;gap:1rem;flex-wrap:wrap;align-items:end;background:#fff;padding:.8rem;border:1px solid #d8dde3;border-radius:6px}
        label{display:flex;flex-direction:column;font-size:.85rem;gap:.2rem}.finding{background:#fff;border:1px solid #d8dde3;border-left:5px solid #888;border-radius:4px;margin:.25rem 0;padding:.3rem .8rem}
        .finding summary{cursor:pointer;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}.finding[open] summary{white-space:normal}.rule{color:#555;font-size:.85em;margin:0 .4rem}
        .state{font-size:.75rem;background:#eef1f5;padding:.05rem .35rem;border-radius:3px}.mark{font-size:.75rem;font-weight:bold;padding:.05rem .35rem;border-radius:3px}.mark.new{background:#dafbe1;color:#1a7f37}.mark.changed{background:#fff7e0;color:#6c4f00}
        .owner h3 small{font-weight:normal;color:#555}
        .finding[data-severity=critical]{border-left-color:#c1121f}.finding[data-severity=warning]{border-left-color:#e09f3e}.finding[data-severity=info]{border-left-color:#457b9d}
        .finding h3{margin:.2rem 0;font-size:1rem}.sev{font-size:.75rem;text-transform:uppercase;padding:.1rem .4rem;border-radius:3px;background:#eee;margin-right:.4rem}
        .note{color:#6c4f00;background:#fff7e0;padding:.2rem .5rem;border-radius:3px}.action{border-top:1px dashed #d8dde3;margin-top:.5rem;padding-top:.5rem}
        pre{background:#f3f5f8;padding:.6rem;overflow:auto;white-space:pre-wrap;margin:.3rem 0}iframe{width:100%;min-height:14rem;border:1px solid #d8dde3;background:#fff}
        .added{color:#1a7f37}.removed{color:#c1121f}.changed{color:#6c4f00}code{font-size:.9em}
        """;

    private const string Script = """
        (function () {
          var ids = { owner: 'f-owner', playbook: 'f-playbook', rule: 'f-rule', severity: 'f-severity', state: 'f-state', q: 'f-search' };
          var items = Array.prototype.slice.call(document.querySelectorAll('details.finding'));
          function value(name) { var input = document.getElementById(ids[name]); return input ? input.value : ''; }
          function apply() {
            var shown = 0, q = value('q').toLowerCase();
            items.forEach(function (a) {
              var ok = (!value('owner') || a.dataset.owner === value('owner'))
                && (!value('playbook') || a.dataset.playbook === value('playbook'))
                && (!value('rule') || a.dataset.rule === value('rule'))
                && (!value('severity') || a.dataset.severity === value('severity'))
                && (!value('state') || a.dataset.state === value('state'))
                && (!q || a.textContent.toLowerCase().indexOf(q) >= 0);
              a.hidden = !ok;
              if (ok) { shown++; }
            });
            Array.prototype.slice.call(document.querySelectorAll('section.owner')).forEach(function (s) {
              s.hidden = !s.querySelector('details.finding:not([hidden])');
            });
            document.getElementById('shown').textContent = String(shown);
            document.body.dataset.shown = String(shown);
          }
          var initial = new URLSearchParams(location.hash.slice(1));
          Object.keys(ids).forEach(function (name) {
            var input = document.getElementById(ids[name]);
            if (!input) { return; }
            if (initial.has(name)) { input.value = initial.get(name); }
            input.addEventListener('input', apply);
          });
          apply();
          document.body.dataset.ready = 'true';
        })();
        """;

    /// <summary>
    /// A self-contained HTML report (no external resources): summary, filters by playbook, rule, severity,
    /// state and text, and every finding with its rendered actions (an HTML email in a sandboxed frame,
    /// a webhook body as formatted JSON). Filters can be preset in the URL: <c>#rule=p/r&amp;severity=critical</c>.
    /// </summary>
    public static string WriteHtml(PlanView view)
    {
        var s = view.Summary;
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append(CultureInfo.InvariantCulture, $"<title>Playbook plan as of {E(DateFormats.FormatInstant(view.AsOf))}</title>\n<style>{Style}</style>\n</head>\n")
            .Append(CultureInfo.InvariantCulture, $"<body data-ready=\"false\" data-total=\"{view.Findings.Count}\">\n<header><h1>Playbook plan</h1><p>As of {E(DateFormats.FormatInstant(view.AsOf))}: what <code>playbook run</code> would do.</p></header>\n<main>\n");
        html.Append("<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">")
            .Append(Card("records", s.Records)).Append(Card("findings", s.Findings)).Append(Card("actions pending", s.Actions))
            .Append(Card("suppressed", s.Suppressed)).Append(Card("held back", s.HeldBack))
            .Append(s.Waiting > 0 ? Card("waiting", s.Waiting) : "").Append(s.Resolved > 0 ? Card("resolved", s.Resolved) : "").Append(s.Deferred > 0 ? Card("deferred", s.Deferred) : "").Append(s.Digests > 0 ? Card("digests", s.Digests) : "").Append(Card("errors", s.Errors)).Append("</div>\n")
            .Append("<table><tr><th>Playbook</th><th>Rule</th><th>Severity</th><th>Findings</th><th>Actions pending</th><th>Suppressed</th><th>Held back</th></tr>\n");
        foreach (var rule in view.Rules)
        {
            html.Append(CultureInfo.InvariantCulture,
                $"<tr><td>{E(rule.Playbook)}</td><td>{E(rule.Rule)}</td><td>{Planner.SeverityName(rule.Severity)}</td><td>{rule.Findings.Count}</td><td>{rule.ActionsPending}</td><td>{rule.Suppressed}</td><td>{rule.HeldBack}</td></tr>\n");
        }

        html.Append("</table>\n");
        if (view.Plan.Report.Owner is not null)
        {
            html.Append("<h3>Per owner</h3><table><tr><th>Owner</th><th>Findings</th><th>Critical</th><th>Warning</th><th>Info</th><th>Actions pending</th></tr>\n");
            foreach (var owner in view.Worklist)
            {
                html.Append(CultureInfo.InvariantCulture,
                    $"<tr><td>{E(owner.Owner ?? "(no owner)")}</td><td>{owner.Findings.Count}</td><td>{owner.Count(Severity.Critical)}</td><td>{owner.Count(Severity.Warning)}</td><td>{owner.Count(Severity.Info)}</td><td>{owner.ActionsPending}</td></tr>\n");
            }

            html.Append("</table>\n");
        }

        html.Append("</section>\n");
        if (view.Changes is { } changes)
        {
            html.Append(CultureInfo.InvariantCulture,
                $"<p id=\"changes\">Against the baseline as of {E(changes.BaselineAsOf)}: {changes.Added.Count} new and {changes.Changed.Count} changed, marked on the findings below; {changes.Removed.Count} gone, listed after them.</p>\n");
        }

        AppendFilters(html, view);
        html.Append("<section id=\"findings\">\n");
        foreach (var owner in view.Worklist)
        {
            html.Append(CultureInfo.InvariantCulture, $"<section class=\"owner\" data-owner=\"{E(owner.Owner ?? "")}\"><h3>{E(owner.Owner ?? (view.Plan.Report.Owner is null ? "Findings" : "(no owner)"))} <small>{owner.Findings.Count}</small></h3>\n");
            foreach (var finding in owner.Findings)
            {
                AppendFinding(html, finding, view.MarkOf(finding), view.Changes?.Changed.FirstOrDefault(c => c.Playbook == finding.Playbook && c.Rule == finding.Rule && c.Key == finding.Key));
            }

            html.Append("</section>\n");
        }

        html.Append("</section>\n");
        if (view.Changes is { Removed.Count: > 0 } gone)
        {
            html.Append("<section id=\"gone\"><h2>Gone since the baseline</h2><ul>\n");
            foreach (var id in gone.Removed)
            {
                html.Append(CultureInfo.InvariantCulture, $"<li class=\"removed\">&minus; <code>{E(id.ToString())}</code></li>\n");
            }

            html.Append("</ul></section>\n");
        }
        if (view.Plan.Digests.Count > 0)
        {
            html.Append("<section id=\"digests\"><h2>Digests</h2>\n");
            foreach (var digest in view.Plan.Digests)
            {
                html.Append(CultureInfo.InvariantCulture, $"<article class=\"digest\" data-digest=\"{E(digest.Name)}\" data-group=\"{E(digest.Group)}\">\n<h3>{E(digest.Name)} &middot; {E(digest.Group)}</h3>\n<p class=\"message\">{digest.Findings.Count} findings: ")
                    .Append(E(string.Join(", ", digest.Findings.Select(f => $"{f.Playbook}/{f.Rule} {f.Key}")))).Append("</p>\n");
                AppendAction(html, digest.Action);
                html.Append("</article>\n");
            }

            html.Append("</section>\n");
        }

        if (view.Problems.Count > 0)
        {
            html.Append("<section id=\"errors\"><h2>Errors and warnings</h2><pre>");
            foreach (var line in view.Problems)
            {
                html.Append(E(line)).Append('\n');
            }

            html.Append("</pre></section>\n");
        }

        html.Append("</main>\n<script>").Append(Script).Append("</script>\n</body>\n</html>\n");
        return html.ToString();
    }

    private static string Card(string label, int value) => $"<div class=\"card\"><b>{value.ToString(CultureInfo.InvariantCulture)}</b>{label}</div>";

    private static void AppendFilters(StringBuilder html, PlanView view)
    {
        static string Options(IEnumerable<string> values) =>
            "<option value=\"\">All</option>" + string.Concat(values.Distinct().Select(v => $"<option value=\"{E(v)}\">{E(v)}</option>"));
        html.Append("<h2>Findings</h2><section id=\"filters\">")
            .Append(view.Plan.Report.Owner is null ? "" : "<label>Owner<select id=\"f-owner\">" + Options(view.Worklist.Select(o => o.Owner).OfType<string>()) + "</select></label>")
            .Append("<label>Playbook<select id=\"f-playbook\">").Append(Options(view.Findings.Select(f => f.Playbook))).Append("</select></label>")
            .Append("<label>Rule<select id=\"f-rule\">").Append(Options(view.Findings.Select(f => $"{f.Playbook}/{f.Rule}"))).Append("</select></label>")
            .Append("<label>Severity<select id=\"f-severity\">").Append(Options(["critical", "warning", "info"])).Append("</select></label>")
            .Append("<label>State<select id=\"f-state\">").Append(Options(["pending", "suppressed", "held-back", "inhibited", "waiting", "resolved", "deferred"])).Append("</select></label>")
            .Append("<label>Search<input id=\"f-search\" type=\"search\" placeholder=\"key, name, text\"></label>")
            .Append(CultureInfo.InvariantCulture, $"<p><span id=\"shown\">{view.Findings.Count}</span> of {view.Findings.Count} findings shown</p></section>\n");
    }

    /// <summary>One finding as a compact row (severity, key, rule, message, state, baseline mark) that expands to its detail and actions.</summary>
    private static void AppendFinding(StringBuilder html, PlannedFinding finding, string? mark, ChangedFinding? changed)
    {
        var severity = Planner.SeverityName(finding.Severity);
        var state = PlanView.StateName(finding.State);
        html.Append(CultureInfo.InvariantCulture,
            $"<details class=\"finding\" data-owner=\"{E(finding.Owner ?? "")}\" data-playbook=\"{E(finding.Playbook)}\" data-rule=\"{E($"{finding.Playbook}/{finding.Rule}")}\" data-severity=\"{severity}\" data-state=\"{state}\" data-key=\"{E(finding.Key)}\"{(mark is null ? "" : $" data-change=\"{mark}\"")}>\n")
            .Append(CultureInfo.InvariantCulture, $"<summary><span class=\"sev\">{severity}</span><b>{E(finding.Key)}</b> <span class=\"rule\">{E(finding.Playbook)}/{E(finding.Rule)}</span> <span class=\"message\">{E(finding.Message ?? "")}</span>")
            .Append(state == "pending" ? "" : $" <span class=\"state\">{state}</span>")
            .Append(mark is null ? "" : $" <span class=\"mark {mark}\">{mark}</span>").Append("</summary>\n");
        if (changed is not null)
        {
            html.Append("<ul class=\"changed\">");
            foreach (var change in changed.Changes)
            {
                html.Append(CultureInfo.InvariantCulture, $"<li><code>{E(change.Path)}</code>: {E(PlanDiff.Show(change.Before))} &rarr; {E(PlanDiff.Show(change.After))}</li>");
            }

            html.Append("</ul>\n");
        }
        if (finding.Values.Count > 0)
        {
            html.Append(CultureInfo.InvariantCulture, $"<p class=\"values\">{E(finding.ValuesLine)}</p>\n");
        }

        if (finding.Resolves is { } firedAt)
        {
            html.Append(CultureInfo.InvariantCulture, $"<p class=\"note\">Resolved: the condition no longer holds; the rule fired {E(DateFormats.FormatInstant(firedAt))}.</p>\n");
        }
        else if (finding.WaitingUntil is { } fires)
        {
            html.Append(CultureInfo.InvariantCulture, $"<p class=\"note\">Waiting: pending since {E(DateFormats.FormatInstant(finding.PendingSince ?? fires))}; fires {E(DateFormats.FormatInstant(fires))} if it still holds. No action runs yet.</p>\n");
        }

        if (finding.Suppressed)
        {
            html.Append(CultureInfo.InvariantCulture, $"<p class=\"note\">Suppressed: {E(finding.Justification ?? "")}. No action runs.</p>\n");
        }
        else if (finding.InhibitedBy is { } inhibitor)
        {
            html.Append(CultureInfo.InvariantCulture, $"<p class=\"note\">Inhibited by {E(inhibitor)}, which fires for this customer. No action runs.</p>\n");
        }
        else if (finding.HeldBackUntil is { } until)
        {
            html.Append(CultureInfo.InvariantCulture, $"<p class=\"note\">Held back by its cooldown until {E(DateFormats.FormatInstant(until))}. No action runs.</p>\n");
        }
        else if (finding.Deferred is { } deferred)
        {
            html.Append(CultureInfo.InvariantCulture, $"<p class=\"note\">Deferred by the {E(deferred.By)} throttle: number {deferred.Place} in its queue. No action runs now; it goes out on a later run.</p>\n");
        }

        foreach (var action in finding.Actions)
        {
            AppendAction(html, action);
        }

        foreach (var (digest, group) in finding.Digests)
        {
            html.Append(CultureInfo.InvariantCulture, $"<p class=\"note\">Listed in digest {E(digest)} for {E(group)}.</p>\n");
        }

        html.Append("</details>\n");
    }

    private static void AppendAction(StringBuilder html, PlannedAction action)
    {
        string? Field(string name) => action.Fields.FirstOrDefault(f => f.Name == name)?.Text;
        html.Append(CultureInfo.InvariantCulture, $"<div class=\"action {E(action.Type)}\"><table>");
        html.Append(CultureInfo.InvariantCulture, $"<tr><th>Action</th><td>{E(action.Type)}</td></tr>");
        foreach (var field in action.Fields.Where(f => f.Name is not ("body" or "html_body")))
        {
            var value = field.Children is { } children ? string.Join("; ", children.Select(c => $"{c.Name}: {c.Text}")) : field.Text ?? (field.Flag is true ? "true" : "false");
            html.Append(CultureInfo.InvariantCulture, $"<tr><th>{E(field.Name)}</th><td>{E(value)}</td></tr>");
        }

        html.Append("</table>\n");
        if (Field("body") is { } body)
        {
            var isHtml = action.Fields.Any(f => f.Name == "html" && f.Flag == true);
            if (isHtml)
            {
                html.Append(CultureInfo.InvariantCulture, $"<iframe sandbox=\"\" title=\"email body\" srcdoc=\"{E(body)}\"></iframe>\n");
            }
            else
            {
                html.Append("<pre>").Append(E(ActionKind.Of(action.Type).BodyFormat == "json" ? PrettyJson(body) : body)).Append("</pre>\n");
            }
        }

        if (Field("html_body") is { } htmlBody)
        {
            // The HTML part of a multipart email, shown as a mail client would, in a sandbox (no scripts, no requests).
            html.Append(CultureInfo.InvariantCulture, $"<iframe sandbox=\"\" title=\"email HTML part\" srcdoc=\"{E(htmlBody)}\"></iframe>\n");
        }

        html.Append("</div>\n");
    }

    private static string PrettyJson(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return JsonSerializer.Serialize(document.RootElement, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        }
        catch (JsonException)
        {
            return text;
        }
    }

    /// <summary>
    /// HTML-encoded, and line breaks as character references: the browser shows the same text, and no value
    /// starts a new line of the file (a line a CI log or a problem matcher would read as its own).
    /// </summary>
    private static string E(string text) => WebUtility.HtmlEncode(text).Replace("\r", "&#13;", StringComparison.Ordinal).Replace("\n", "&#10;", StringComparison.Ordinal);
}
