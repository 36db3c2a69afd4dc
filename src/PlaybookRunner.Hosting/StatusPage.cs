using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core;
using System.Globalization;
using System.Net;
using System.Text;
using PlaybookRunner.Core.Execution;

namespace PlaybookRunner.Hosting;

/// <summary>The daemon's small status page: schedules with next and last runs, a rejected edit, recent actions.</summary>
internal static class StatusPage
{
    public static string Render(Daemon daemon, DateTimeOffset now, IReadOnlyList<ActionRecord> recent)
    {
        var html = new StringBuilder();
        html.Append("""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>PlaybookRunner daemon</title>
            <style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:2em}
            th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f3f3f3}
            .ok{color:#060}.errors,.failed,.dead{color:#a00}.pending{color:#a60}pre{background:#fee;padding:1em}</style></head><body>
            <h1>PlaybookRunner daemon</h1>
            """);
        html.Append(CultureInfo.InvariantCulture, $"<p>Runner <code>{E(daemon.Owner)}</code> at {E(Instant(now))} &middot; <a href=\"/metrics\">metrics</a> &middot; <a href=\"/healthz\">health</a></p>\n");
        if (daemon.RejectedDiagnostics.Count > 0)
        {
            var root = Directory.GetCurrentDirectory();
            html.Append("<h2>Rejected edit</h2><p>The last edit did not validate; the last good version of the files in error keeps running.</p><pre>")
                .Append(E(DiagnosticFormatter.WriteText(daemon.RejectedDiagnostics, root)))
                .Append("</pre>\n");
        }

        html.Append("<h2>Schedules</h2><table><tr><th>Playbook</th><th>Schedule</th><th>Time zone</th><th>Rules</th><th>Next run</th><th>Last run</th><th>Result</th><th>Findings</th><th>Actions recorded</th><th>Duration</th></tr>\n");
        foreach (var schedule in daemon.Schedules())
        {
            var last = schedule.Last;
            html.Append(CultureInfo.InvariantCulture,
                $"<tr><td>{E(schedule.Playbook)}</td><td><code>{E(schedule.Schedule)}</code></td><td>{E(schedule.Zone)}</td><td>{E(string.Join(", ", schedule.Rules))}</td>"
                + $"<td>{E(schedule.NextRun is { } next ? Instant(next) : "-")}</td><td>{E(last is null ? "not yet" : Instant(last.DueAt))}</td>"
                + $"<td class=\"{Name(last?.Result)}\">{(last is null ? "-" : Name(last.Result))}</td><td>{last?.Findings}</td><td>{last?.Recorded}</td>"
                + $"<td>{(last is null ? "" : E(((long)last.Duration.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + " ms"))}</td></tr>\n");
        }

        html.Append("</table>\n<h2>Recent actions</h2><table><tr><th>Fired</th><th>Playbook/rule</th><th>Key</th><th>Type</th><th>State</th><th>Attempts</th><th>Last error</th></tr>\n");
        foreach (var action in recent)
        {
            var state = StateStore.StateName(action.State);
            html.Append(CultureInfo.InvariantCulture,
                $"<tr><td>{E(Instant(action.FiredAt))}</td><td>{E(action.Playbook)}/{E(action.Rule)}</td><td>{E(action.Key)}</td><td>{E(action.Type)}</td>"
                + $"<td class=\"{state}\">{state}</td><td>{action.Attempts}</td><td>{E(action.LastError ?? "")}</td></tr>\n");
        }

        html.Append("</table></body></html>\n");
        return html.ToString();
    }

    private static string Instant(DateTimeOffset instant) => instant.UtcDateTime.ToString(DateFormats.StatusInstant, CultureInfo.InvariantCulture);

    private static string E(string text) => WebUtility.HtmlEncode(text);

    /// <summary>A tick's result as the page (and its CSS classes) names it: ok, errors or failed.</summary>
    internal static string Name(TickResult? result) => result switch
    {
        TickResult.Ok => "ok",
        TickResult.Errors => "errors",
        TickResult.Failed => "failed",
        _ => "",
    };
}
