using System.Globalization;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Planning;

/// <summary>
/// Rollout throttles (docs/execution.md, "Rollout throttles"): a rule's <c>throttle:</c> lets at most so many of its findings
/// run per evaluation and per day, highest in <c>order_by</c> first; a channel's, so many of its actions. What is over is
/// deferred, with its place in the queue, and goes out on later runs (each evaluation orders the queue afresh). The
/// findings of a rule that is throttled, or that acts through a throttled channel, are queued whole by the planner and
/// decided here once every one of them is known.
/// </summary>
internal sealed class Throttles(WorkspaceDefinition workspace, IFiringHistory history, DateTimeOffset asOf)
{
    private readonly HashSet<FindingId> _deferred = [];

    /// <summary>The findings <see cref="Decide"/> deferred: they join no digest.</summary>
    public IReadOnlySet<FindingId> DeferredFindings => _deferred;

    /// <summary>True when <paramref name="rule"/>'s findings wait for the decision: it has a throttle, or an action through a throttled channel.</summary>
    public bool Queues(RuleDefinition rule) =>
        rule.Throttle is not null || rule.Actions.Any(a => ChannelThrottle(ChannelOf(a)) is not null);

    /// <summary>
    /// Decides which queued findings run now. <paramref name="queued"/> holds every finding of the queued rules with the
    /// value its rule orders by. Returns them with <see cref="PlannedFinding.Deferred"/> set on those held back.
    /// </summary>
    public IReadOnlyList<PlannedFinding> Decide(IReadOnlyList<(PlannedFinding Finding, object? Order)> queued)
    {
        var result = new List<PlannedFinding>(queued.Count);
        var admitted = new List<(PlannedFinding Finding, int Rank)>();
        foreach (var rule in queued.GroupBy(q => (q.Finding.Playbook, q.Finding.RuleIndex)))
        {
            var playbook = workspace.Playbooks.First(p => p.Id == rule.Key.Playbook);
            var definition = playbook.Rules[rule.Key.RuleIndex];
            var throttle = definition.Throttle;
            var candidates = rule.Where(q => q.Finding.State == FindingState.Pending).ToList();
            result.AddRange(rule.Where(q => q.Finding.State != FindingState.Pending).Select(q => q.Finding));
            candidates.Sort((a, b) => Compare(a, b, throttle?.Descending ?? false));
            var allowance = throttle?.Allowance(throttle.PerDay is null ? 0 : history.FiredBetween(playbook.Id, definition.Id, DayStart(playbook.TimeZone), asOf)) ?? int.MaxValue;
            for (var i = 0; i < candidates.Count; i++)
            {
                if (i < allowance)
                {
                    admitted.Add((candidates[i].Finding, i));
                }
                else
                {
                    result.Add(Defer(candidates[i].Finding, i - allowance + 1, "rule"));
                }
            }
        }

        // Then the channels' throttles, over every rule that acts through them: critical findings first, then in the plan's
        // order of rules, each rule's queue in its order.
        var left = new Dictionary<string, int>(StringComparer.Ordinal);
        var deferredPerChannel = new Dictionary<string, int>(StringComparer.Ordinal);
        var utcDay = new DateTimeOffset(asOf.UtcDateTime.Date, TimeSpan.Zero);
        foreach (var (finding, _) in admitted.OrderByDescending(a => a.Finding.Severity).ThenBy(a => a.Finding.Playbook, StringComparer.Ordinal)
                     .ThenBy(a => a.Finding.RuleIndex).ThenBy(a => a.Rank))
        {
            var lanes = finding.Actions.Select(LaneOf).ToList();
            var over = lanes.Select(l => l.Channel).OfType<string>().Distinct(StringComparer.Ordinal).FirstOrDefault(channel =>
            {
                if (!left.TryGetValue(channel, out var remaining))
                {
                    var throttle = ChannelThrottle(channel)!;
                    var lane = lanes.First(l => l.Channel == channel).Lane;
                    remaining = left[channel] = throttle.Allowance(throttle.PerDay is null ? 0 : history.RecordedBetween(lane, utcDay, asOf));
                }

                return remaining < lanes.Count(l => l.Channel == channel);
            });
            if (over is not null)
            {
                deferredPerChannel[over] = deferredPerChannel.GetValueOrDefault(over) + 1;
                result.Add(Defer(finding, deferredPerChannel[over], $"channel {over}"));
                continue;
            }

            foreach (var channel in lanes.Select(l => l.Channel).OfType<string>())
            {
                left[channel]--;
            }

            result.Add(finding);
        }

        return result;
    }

    private PlannedFinding Defer(PlannedFinding finding, int place, string by)
    {
        _deferred.Add(new FindingId(finding.Playbook, finding.Rule, finding.Key));
        return finding with { Deferred = (place, by), Digests = [] };
    }

    /// <summary>Queue order: the rule's <c>order_by</c> value (missing values last, whichever the direction), then the key.</summary>
    private static int Compare((PlannedFinding Finding, object? Order) a, (PlannedFinding Finding, object? Order) b, bool descending)
    {
        var c = (a.Order, b.Order) switch
        {
            (null, null) => 0,
            (null, _) => 1,
            (_, null) => -1,
            ({ } x, { } y) when x.GetType() == y.GetType() && x is IComparable comparable => (descending ? -1 : 1) * comparable.CompareTo(y),
            ({ } x, { } y) => (descending ? -1 : 1) * string.CompareOrdinal(Convert.ToString(x, CultureInfo.InvariantCulture), Convert.ToString(y, CultureInfo.InvariantCulture)),
        };
        return c != 0 ? c : string.CompareOrdinal(a.Finding.Key, b.Finding.Key);
    }

    /// <summary>Midnight of the evaluation's day in <paramref name="zone"/>.</summary>
    private DateTimeOffset DayStart(TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(asOf, zone);
        var midnight = local.Date;
        return new DateTimeOffset(midnight, zone.GetUtcOffset(midnight));
    }

    private static string? ChannelOf(ActionDefinition action) => ActionKind.Of(action.Type).ChannelOf(action.Field("channel")?.Template?.Value);

    private Throttle? ChannelThrottle(string? channel) =>
        channel is not null && workspace.Channels.TryGetValue(channel, out var definition) ? ChannelDefinitionThrottle(definition) : null;

    /// <summary>A channel's <c>throttle:</c> in runner.yaml (its settings hold it flattened), or null.</summary>
    internal static Throttle? ChannelDefinitionThrottle(ChannelDefinition channel)
    {
        int? Number(string name) => channel.Settings.TryGetValue($"throttle.{name}", out var text) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
        return Number("per_run") is null && Number("per_day") is null ? null : new Throttle(Number("per_run"), Number("per_day"), null, false, channel.Location);
    }

    /// <summary>The throttled channel a planned action goes through (null when its channel has no throttle), and its delivery lane.</summary>
    private (string? Channel, string Lane) LaneOf(PlannedAction action)
    {
        var kind = ActionKind.Of(action.Type);
        var fields = action.Fields.Where(f => f.Text is not null).ToDictionary(f => f.Name, f => f.Text!, StringComparer.Ordinal);
        var channel = kind.ChannelOf(fields.GetValueOrDefault("channel"));
        return (ChannelThrottle(channel) is null ? null : channel, kind.Lane(fields));
    }
}
