using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace PlaybookRunner.Hosting;

/// <summary>
/// The daemon's counters, rendered in the Prometheus text exposition format (version 0.0.4).
/// Counters count what this process did since it started; store gauges are read at scrape time.
/// </summary>
internal sealed class DaemonMetrics
{
    private static readonly double[] Buckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly ConcurrentDictionary<string, long> _evaluations = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _evaluationErrors = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _ticksSkipped = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Playbook, string Rule), long> _findings = new();
    private readonly ConcurrentDictionary<(string Type, string Outcome), long> _actions = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastSuccess = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _reloads = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Histogram> _durations = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _sourceErrors = new(StringComparer.Ordinal);
    private long _storeErrors;

    public void Evaluated(string playbook, TimeSpan duration, bool succeeded, DateTimeOffset at)
    {
        _evaluations.AddOrUpdate(playbook, 1, (_, n) => n + 1);
        _durations.GetOrAdd(playbook, _ => new Histogram()).Observe(duration.TotalSeconds);
        if (succeeded)
        {
            _lastSuccess[playbook] = at;
        }
        else
        {
            _evaluationErrors.AddOrUpdate(playbook, 1, (_, n) => n + 1);
        }
    }

    public void Found(string playbook, string rule) => _findings.AddOrUpdate((playbook, rule), 1, (_, n) => n + 1);

    public void TickSkipped(string playbook) => _ticksSkipped.AddOrUpdate(playbook, 1, (_, n) => n + 1);

    public void Action(string type, string outcome) => _actions.AddOrUpdate((type, outcome), 1, (_, n) => n + 1);

    /// <summary>A state store operation failed (unreachable, unwritable, lost).</summary>
    public void StoreError() => Interlocked.Increment(ref _storeErrors);

    /// <summary>A tick of <paramref name="playbook"/> could not read its data.</summary>
    public void SourceError(string playbook) => _sourceErrors.AddOrUpdate(playbook, 1, (_, n) => n + 1);

    public void Reload(bool loaded) => _reloads.AddOrUpdate(loaded ? "loaded" : "rejected", 1, (_, n) => n + 1);

    public DateTimeOffset? LastSuccess(string playbook) => _lastSuccess.TryGetValue(playbook, out var at) ? at : null;

    /// <summary>
    /// The metrics as Prometheus text; <paramref name="storeActions"/> are the store's actions by state and
    /// <paramref name="backlog"/> its pending actions with the oldest one's age, when it could be read; <paramref name="storeUp"/>
    /// says whether the daemon can use the store now (reachable, and the one it started with).
    /// </summary>
    public string Render(IEnumerable<string> playbooks, IReadOnlyDictionary<string, long>? storeActions, (long Pending, TimeSpan? OldestAge)? backlog = null, bool storeUp = true)
    {
        var text = new StringBuilder();
        Family(text, "playbook_evaluations_total", "counter", "Evaluations of a playbook's scheduled rules by this daemon.",
            _evaluations.Select(e => (Labels(("playbook", e.Key)), (double)e.Value)));
        Family(text, "playbook_evaluation_errors_total", "counter", "Evaluations that ended with errors (data or conditions).",
            _evaluationErrors.Select(e => (Labels(("playbook", e.Key)), (double)e.Value)));
        Family(text, "playbook_ticks_skipped_total", "counter", "Scheduled ticks another daemon had already claimed.",
            _ticksSkipped.Select(e => (Labels(("playbook", e.Key)), (double)e.Value)));
        Family(text, "playbook_findings_total", "counter", "Findings that fired (not suppressed, not held back by a cooldown).",
            _findings.Select(e => (Labels(("playbook", e.Key.Playbook), ("rule", e.Key.Rule)), (double)e.Value)));
        Family(text, "playbook_actions_total", "counter", "Actions this daemon executed, by type and outcome (succeeded, dead, abandoned).",
            _actions.Select(e => (Labels(("type", e.Key.Type), ("outcome", e.Key.Outcome)), (double)e.Value)));
        Family(text, "playbook_last_success_timestamp_seconds", "gauge", "When a playbook's evaluation last succeeded (Unix time).",
            playbooks.Where(p => _lastSuccess.ContainsKey(p)).Select(p => (Labels(("playbook", p)), _lastSuccess[p].ToUnixTimeMilliseconds() / 1000.0)));
        Family(text, "playbook_reloads_total", "counter", "Edits to the playbooks that were loaded or rejected.",
            _reloads.Select(e => (Labels(("result", e.Key)), (double)e.Value)));
        Family(text, "playbook_store_errors_total", "counter", "State store operations that failed (unreachable, unwritable, lost) in this daemon.",
            [("", (double)Interlocked.Read(ref _storeErrors))]);
        Family(text, "playbook_store_up", "gauge", "1 while the state store is reachable and the one the daemon started with; 0 while execution is paused.",
            [("", storeUp ? 1 : 0)]);
        Family(text, "playbook_source_errors_total", "counter", "Ticks that could not read their data.",
            _sourceErrors.Select(e => (Labels(("playbook", e.Key)), (double)e.Value)));
        if (backlog is { } pending)
        {
            Family(text, "playbook_backlog_actions", "gauge", "Pending actions in the state store (all daemons), including those waiting for a retry.",
                [("", (double)pending.Pending)]);
            Family(text, "playbook_oldest_pending_age_seconds", "gauge", "Age of the oldest pending action (since its firing); 0 when none.",
                [("", pending.OldestAge is { } age ? Math.Max(0, age.TotalSeconds) : 0)]);
        }

        if (storeActions is not null)
        {
            Family(text, "playbook_store_actions", "gauge", "Actions in the state store by state (all daemons).",
                storeActions.Select(e => (Labels(("state", e.Key)), (double)e.Value)));
        }

        text.Append("# HELP playbook_evaluation_duration_seconds How long one evaluation took (reading data, conditions, templates, recording).\n");
        text.Append("# TYPE playbook_evaluation_duration_seconds histogram\n");
        foreach (var (playbook, histogram) in _durations.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            histogram.Render(text, "playbook_evaluation_duration_seconds", playbook);
        }

        return text.ToString();
    }

    private static void Family(StringBuilder text, string name, string type, string help, IEnumerable<(string Labels, double Value)> samples)
    {
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n");
        foreach (var (labels, value) in samples.OrderBy(s => s.Labels, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"{name}{labels} {Number(value)}\n");
        }
    }

    private static string Labels(params (string Name, string Value)[] labels) =>
        "{" + string.Join(",", labels.Select(l => $"{l.Name}=\"{Escape(l.Value)}\"")) + "}";

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private sealed class Histogram
    {
        private readonly long[] _counts = new long[Buckets.Length];
        private long _count;
        private double _sum;

        public void Observe(double seconds)
        {
            lock (this)
            {
                for (var i = 0; i < Buckets.Length; i++)
                {
                    if (seconds <= Buckets[i])
                    {
                        _counts[i]++;
                    }
                }

                _count++;
                _sum += seconds;
            }
        }

        public void Render(StringBuilder text, string name, string playbook)
        {
            lock (this)
            {
                var label = $"playbook=\"{Escape(playbook)}\"";
                for (var i = 0; i < Buckets.Length; i++)
                {
                    text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{label},le=\"{Number(Buckets[i])}\"}} {_counts[i]}\n");
                }

                text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{label},le=\"+Inf\"}} {_count}\n");
                text.Append(CultureInfo.InvariantCulture, $"{name}_sum{{{label}}} {Number(_sum)}\n");
                text.Append(CultureInfo.InvariantCulture, $"{name}_count{{{label}}} {_count}\n");
            }
        }
    }
}
