using PlaybookRunner.Abstractions;
using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Core.Model;

/// <summary>What a source does with a row it cannot read.</summary>
public enum BadRowPolicy
{
    /// <summary>Stop with a located error (the default).</summary>
    Fail,
    /// <summary>Report the row as a warning and go on.</summary>
    Skip,
}

/// <summary>One declared field of a source.</summary>
public sealed record FieldDefinition(string Name, FieldType Type, string Column, SourceLocation Location);

/// <summary>A related source attached to each record as a read-only list (spec section 4).</summary>
public sealed record RelatedDefinition(string Name, string Source, string Key, SourceLocation Location);

/// <summary>A data source: where records come from and what fields they have.</summary>
public sealed record SourceDefinition(
    string Name,
    string Kind,
    string Key,
    IReadOnlyList<FieldDefinition> Fields,
    string TimeZoneId,
    BadRowPolicy OnBadRow,
    IReadOnlyDictionary<string, string> Options,
    IReadOnlyList<RelatedDefinition> Related,
    string BaseDirectory,
    SourceLocation Location,
    IReadOnlyDictionary<string, SourceLocation> OptionLocations)
{
    /// <summary>Where an option is written, or the source itself when the option is absent.</summary>
    public SourceLocation LocationOf(string option) => OptionLocations.TryGetValue(option, out var at) ? at : Location;

    /// <summary>The columns the declared fields read.</summary>
    public IReadOnlyList<string> Columns => [.. Fields.Select(f => f.Column)];

    /// <summary>The source's time zone, for datetime values written without an offset.</summary>
    public TimeZoneInfo TimeZone => TimeZoneInfo.FindSystemTimeZoneById(TimeZoneId);

    /// <summary>An option resolved against the declaring file's folder when it is a path.</summary>
    public string? Option(string name) => Options.TryGetValue(name, out var v) ? v : null;

    /// <summary>The <c>path:</c> option as a full path.</summary>
    public string? FullPath => Option("path") is { } p ? System.IO.Path.GetFullPath(System.IO.Path.Combine(BaseDirectory, p)) : null;
}

/// <summary>A named expression: a <c>let</c> value, a computed value or a segment.</summary>
public sealed record NamedExpression(string Name, SpannedText Expression, SourceLocation NameLocation);

/// <summary>One field of an action: a template, a boolean, or a nested map of templates (headers).</summary>
public sealed record ActionField(string Name, SpannedText? Template, bool? Flag, IReadOnlyList<ActionField>? Children, SourceLocation Location);

/// <summary>An action of a rule: its type and fields in file order.</summary>
public sealed record ActionDefinition(string Type, IReadOnlyList<ActionField> Fields, SourceLocation Location)
{
    /// <summary>Where the type is written.</summary>
    public SourceLocation TypeLocation { get; init; } = Location;

    /// <summary>The field with this name, if present.</summary>
    public ActionField? Field(string name) => Fields.FirstOrDefault(f => f.Name == name);
}

/// <summary>A cron schedule with its text.</summary>
public sealed record CronSchedule(string Text, Cronos.CronExpression Expression, SourceLocation Location);

/// <summary>One rule of a playbook.</summary>
public sealed record RuleDefinition(
    string Id,
    string? Title,
    string? Description,
    Severity Severity,
    SpannedText When,
    Duration? Cooldown,
    CronSchedule? Schedule,
    SpannedText? Message,
    IReadOnlyList<ActionDefinition> Actions,
    SourceLocation Location)
{
    /// <summary>
    /// The rules of the same playbook this rule silences for a customer while its condition holds for them
    /// (<c>inhibits:</c>): the escalation silences the reminder. Each with where it is written.
    /// </summary>
    public IReadOnlyList<(string Rule, SourceLocation Location)> Inhibits { get; init; } = [];

    /// <summary>
    /// <c>for:</c>: how long the condition must have held, at every evaluation, before the rule fires for a customer;
    /// until then the finding is waiting. Null: it fires at the first evaluation that finds it.
    /// </summary>
    public Duration? For { get; init; }

    /// <summary>Where <c>for:</c> is written.</summary>
    public SourceLocation ForLocation { get; init; } = Location;

    /// <summary><c>on_resolve:</c>: what runs once when the condition stops holding for a customer the rule fired for.</summary>
    public ResolveDefinition? OnResolve { get; init; }

    /// <summary>
    /// True when the state store follows the rule's condition per customer from one evaluation to the next
    /// (<c>for:</c> or <c>on_resolve:</c>).
    /// </summary>
    public bool IsTracked => For is not null || OnResolve is not null;

    /// <summary><c>throttle:</c>: how many of its findings run per run and per day, highest in <c>order_by</c> first; the rest are deferred.</summary>
    public Throttle? Throttle { get; init; }

    /// <summary><c>digests:</c>: the digests of runner.yaml its findings are listed in, one action per group, each with where it is written.</summary>
    public IReadOnlyList<(string Digest, SourceLocation Location)> Digests { get; init; } = [];

    /// <summary>The rule's actions and its <c>on_resolve:</c> actions: every action template it has.</summary>
    public IEnumerable<ActionDefinition> AllActions => OnResolve is { } resolve ? Actions.Concat(resolve.Actions) : Actions;
}

/// <summary>
/// A rollout throttle (a rule's or a channel's <c>throttle:</c>): at most <see cref="PerRun"/> findings (a channel: actions)
/// run in one evaluation and <see cref="PerDay"/> in a day; a rule's queue is ordered by <see cref="OrderBy"/> (a field or
/// computed value, <see cref="Descending"/> for <c>desc</c>), then by key.
/// </summary>
public sealed record Throttle(int? PerRun, int? PerDay, string? OrderBy, bool Descending, SourceLocation Location)
{
    /// <summary>Where <c>order_by</c> is written.</summary>
    public SourceLocation OrderByLocation { get; init; } = Location;

    /// <summary>How many may still run now, given <paramref name="today"/> already ran today.</summary>
    public int Allowance(int today) => Math.Max(0, Math.Min(PerRun ?? int.MaxValue, PerDay is { } day ? day - today : int.MaxValue));
}

/// <summary>
/// A digest of runner.yaml (<c>digests:</c>): the findings of every rule that joins it are grouped by <see cref="GroupBy"/>
/// (a template rendered per finding: the owner's address), and <see cref="Action"/> runs once per group, its templates
/// seeing <c>group</c> and the group's <c>findings</c>.
/// </summary>
public sealed record DigestDefinition(string Name, SpannedText GroupBy, ActionDefinition Action, SourceLocation Location);

/// <summary>
/// runner.yaml's <c>report:</c>: the field or computed value naming who owns a finding's customer (<see cref="Owner"/>; the
/// worklist's groups), and the one that orders findings after severity (<see cref="SortBy"/>, <see cref="Descending"/>).
/// A playbook without the name leaves its findings unowned, or unordered by it.
/// </summary>
public sealed record ReportDefinition(string? Owner, string? SortBy, bool Descending)
{
    public static ReportDefinition Default { get; } = new(null, null, false);
}

/// <summary>A rule's <c>on_resolve:</c>: the message and actions of its resolution.</summary>
public sealed record ResolveDefinition(SpannedText? Message, IReadOnlyList<ActionDefinition> Actions, SourceLocation Location);

/// <summary>One playbook file.</summary>
public sealed record PlaybookDefinition(
    string Id,
    string Path,
    string? Title,
    string? Description,
    string TimeZoneId,
    CronSchedule? Schedule,
    SourceDefinition Source,
    IReadOnlyList<NamedExpression> Lets,
    IReadOnlyList<NamedExpression> Segments,
    IReadOnlyList<RuleDefinition> Rules,
    SourceLocation Location)
{
    /// <summary>The playbook's time zone.</summary>
    public TimeZoneInfo TimeZone => TimeZoneInfo.FindSystemTimeZoneById(TimeZoneId);

    /// <summary>The most actions one evaluation may execute (<c>max_actions</c>), and where it is written.</summary>
    public (int Limit, SourceLocation Location)? MaxActions { get; init; }

    /// <summary>Whether the daemon runs the latest tick missed while it was down, once, at start-up (<c>catchup: one</c>, the default).</summary>
    public bool CatchUp { get; init; } = true;

    /// <summary>
    /// The computed values (<c>values:</c>), in file order: one expression per record each, evaluated once per customer
    /// before the segments, each seeing the fields, related lists, lets and the values before it.
    /// </summary>
    public IReadOnlyList<NamedExpression> Values { get; init; } = [];
}

/// <summary>An action channel from runner.yaml (smtp or webhook).</summary>
public sealed record ChannelDefinition(string Name, string Kind, IReadOnlyDictionary<string, string> Settings, SourceLocation Location);

/// <summary>Where firings and actions are recorded.</summary>
public sealed record StateDefinition(string Kind, IReadOnlyDictionary<string, string> Settings, string BaseDirectory)
{
    /// <summary>Where the state: mapping is written (none for the default store).</summary>
    public SourceLocation Location { get; init; } = SourceLocation.None;

    /// <summary>How long a claim on an action or a tick lasts: lease_seconds, default 30.</summary>
    public TimeSpan Lease => TimeSpan.FromSeconds(
        Settings.TryGetValue("lease_seconds", out var text) && int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds) ? seconds : 30);
}

/// <summary>A suppression from suppressions.yaml (spec section 8).</summary>
public sealed record SuppressionDefinition(RuleRef Rule, string? Key, DateOnly? Until, string Justification, SourceLocation Location)
{
    /// <summary>True when this suppression covers the finding, as of <paramref name="today"/>.</summary>
    public bool Covers(string playbook, string rule, string key, DateOnly today) =>
        Rule.Matches(playbook, rule) && (Key is null || Key == key) && (Until is null || today <= Until);
}

/// <summary>runner.yaml's <c>calendar:</c>: the weekdays that are working days, and the holidays.</summary>
public sealed record CalendarDefinition(IReadOnlyList<DayOfWeek> WorkingDays, IReadOnlyList<DateOnly> Holidays)
{
    /// <summary>Monday to Friday, no holidays.</summary>
    public static CalendarDefinition Default { get; } = new([DayOfWeek.Monday, DayOfWeek.Tuesday, DayOfWeek.Wednesday, DayOfWeek.Thursday, DayOfWeek.Friday], []);
}

/// <summary>Everything the loader read: runner.yaml and the playbooks.</summary>
public sealed record WorkspaceDefinition(
    string Root,
    string? RunnerPath,
    IReadOnlyDictionary<string, SourceDefinition> Sources,
    IReadOnlyDictionary<string, ChannelDefinition> Channels,
    StateDefinition State,
    IReadOnlyList<string> PluginFolders,
    IReadOnlyDictionary<string, string> SeverityOverrides,
    IReadOnlyList<PlaybookDefinition> Playbooks)
{
    /// <summary>The sources to read for this workspace: each playbook's source and their related sources, each once.</summary>
    public IReadOnlyList<SourceDefinition> SourcesToRead()
    {
        var result = new List<SourceDefinition>();
        foreach (var source in Playbooks.Select(p => p.Source))
        {
            if (!result.Contains(source))
            {
                result.Add(source);
            }
        }

        foreach (var source in result.ToList())
        {
            foreach (var related in source.Related)
            {
                if (Sources.TryGetValue(related.Source, out var target) && !result.Contains(target))
                {
                    result.Add(target);
                }
            }
        }

        return result;
    }

    /// <summary>The process it was loaded in: the clock and the operator's environment (never the workspace's to set).</summary>
    public HostContext Host { get; init; } = HostContext.Unset;

    /// <summary>runner.yaml's timezone: the default for playbooks and sources that set none (UTC without one).</summary>
    public string DefaultTimeZone { get; init; } = "UTC";

    /// <summary>The business calendar (<c>calendar:</c>): working days (Monday to Friday unless set) and holidays.</summary>
    public CalendarDefinition Calendar { get; init; } = CalendarDefinition.Default;

    /// <summary>The bytes of every YAML file this version was loaded from, by full path (playbooks that did not load too).</summary>
    public IReadOnlyDictionary<string, byte[]> Files { get; init; } = new Dictionary<string, byte[]>();

    /// <summary>
    /// The folders whose files the workspace may name, links resolved (see <c>WorkspacePaths</c>): sources,
    /// the state file and file actions must be inside one of them.
    /// </summary>
    public IReadOnlyList<string> Roots { get; init; } = [];

    /// <summary>Where each plugin folder is written in runner.yaml.</summary>
    public IReadOnlyDictionary<string, SourceLocation> PluginLocations { get; init; } = new Dictionary<string, SourceLocation>();

    /// <summary>runner.yaml did not load at all (its error is reported): playbooks naming its sources are not reported again.</summary>
    public bool RunnerBroken { get; init; }

    /// <summary>Sources runner.yaml writes that did not load (their errors are reported): a playbook naming one is left out, not reported again.</summary>
    public IReadOnlySet<string> BrokenSources { get; init; } = new HashSet<string>();

    /// <summary>Channels runner.yaml writes that did not load (their errors are reported): actions naming one are not reported again.</summary>
    public IReadOnlySet<string> BrokenChannels { get; init; } = new HashSet<string>();

    /// <summary>runner.yaml's folder (the workspace root without one): digests' file action paths are relative to it.</summary>
    public string RunnerDirectory => RunnerPath is { } runner ? System.IO.Path.GetDirectoryName(runner)! : Root;

    /// <summary>runner.yaml's <c>report:</c>: how the Markdown and HTML plans order and group findings as a worklist.</summary>
    public ReportDefinition Report { get; init; } = ReportDefinition.Default;

    /// <summary>runner.yaml's <c>digests:</c>, by name.</summary>
    public IReadOnlyDictionary<string, DigestDefinition> Digests { get; init; } = new Dictionary<string, DigestDefinition>();

    /// <summary>The suppressions of suppressions.yaml beside runner.yaml.</summary>
    public IReadOnlyList<SuppressionDefinition> Suppressions { get; init; } = [];

    /// <summary>runner.yaml's execution: settings as written (for digests); <see cref="ExecutionOptions"/> is what they mean.</summary>
    public IReadOnlyDictionary<string, string> Execution { get; init; } = new Dictionary<string, string>();

    /// <summary>runner.yaml's execution: settings, typed, with their defaults.</summary>
    public ExecutionOptions ExecutionOptions { get; init; } = ExecutionOptions.Default;

    /// <summary>The SQLite state file: state.path relative to the workspace root, default playbook-state.db.</summary>
    public string StatePath => System.IO.Path.GetFullPath(System.IO.Path.Combine(State.BaseDirectory, State.Settings.TryGetValue("path", out var p) ? p : "playbook-state.db"));
}
