namespace PlaybookRunner.Runtime;

/// <summary>What the generated code needs to know of its playbook: names for errors and explanations, and its time zone.</summary>
/// <param name="Id">The playbook's id.</param>
/// <param name="TimeZone">The zone <c>Today</c>, <c>DaysUntil</c> and calendar months are computed in.</param>
/// <param name="RuleIds">The rules, in file order.</param>
/// <param name="LetNames">The <c>let</c> values, in file order.</param>
/// <param name="SegmentNames">The segments, in file order.</param>
public sealed record PlaybookShape(string Id, TimeZoneInfo TimeZone, IReadOnlyList<string> RuleIds, IReadOnlyList<string> LetNames, IReadOnlyList<string> SegmentNames)
{
    /// <summary>The computed values (<c>values:</c>), in file order.</summary>
    public IReadOnlyList<string> ValueNames { get; init; } = [];

    /// <summary>The business calendar of runner.yaml, for the business-day helpers.</summary>
    public BusinessCalendar Calendar { get; init; } = BusinessCalendar.Default;
}
