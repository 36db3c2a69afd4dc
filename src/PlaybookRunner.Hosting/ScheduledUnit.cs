using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Hosting;

/// <summary>
/// One schedule of one playbook: the rules that run on it (the playbook's schedule, or a rule's own).
/// Occurrences are computed by Cronos in the playbook's time zone, DST-correct: in a fall-back hour a
/// wall-clock time that occurs twice fires once (at its first occurrence); a time that a spring-forward
/// gap skips fires at the first instant after the gap. Interval schedules (every N minutes) keep
/// firing at every real instant in both cases.
/// </summary>
internal sealed record ScheduledUnit(string Playbook, CronSchedule Schedule, TimeZoneInfo Zone, IReadOnlySet<string> Rules, bool CatchUp)
{
    /// <summary>The unit's identity across reloads and daemons: playbook and cron text.</summary>
    public (string, string) Identity => (Playbook, Schedule.Text);

    public PlanScope Scope => new(Playbook, Rules);

    /// <summary>The first occurrence strictly after <paramref name="instant"/>.</summary>
    public DateTimeOffset? NextAfter(DateTimeOffset instant) => Schedule.Expression.GetNextOccurrence(instant, Zone, inclusive: false);

    /// <summary>The latest occurrence at or before <paramref name="now"/> and strictly after <paramref name="after"/>, if any.</summary>
    public DateTimeOffset? LatestMissed(DateTimeOffset now, DateTimeOffset after) =>
        Schedule.Expression.GetPreviousOccurrence(now, Zone, inclusive: true) is { } previous && previous > after ? previous : null;

    /// <summary>Every schedule of the workspace's playbooks; rules with no schedule (and no playbook schedule) are not scheduled.</summary>
    public static IReadOnlyList<ScheduledUnit> From(WorkspaceDefinition workspace, Action<PlaybookDefinition, IReadOnlyList<string>>? unscheduled = null)
    {
        var units = new List<ScheduledUnit>();
        foreach (var playbook in workspace.Playbooks)
        {
            var groups = playbook.Rules
                .Select(r => (Rule: r.Id, Schedule: r.Schedule ?? playbook.Schedule))
                .ToList();
            var orphans = groups.Where(g => g.Schedule is null).Select(g => g.Rule).ToList();
            if (orphans.Count > 0)
            {
                unscheduled?.Invoke(playbook, orphans);
            }

            foreach (var group in groups.Where(g => g.Schedule is not null).GroupBy(g => g.Schedule!.Text, StringComparer.Ordinal))
            {
                units.Add(new ScheduledUnit(playbook.Id, group.First().Schedule!, playbook.TimeZone,
                    group.Select(g => g.Rule).ToHashSet(StringComparer.Ordinal), playbook.CatchUp));
            }
        }

        return units;
    }
}
