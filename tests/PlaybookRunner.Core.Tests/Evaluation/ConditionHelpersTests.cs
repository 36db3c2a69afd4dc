using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Core.Tests.Evaluation;

/// <summary>The helpers of spec section 5, exercised through real compiled playbooks.</summary>
public sealed class ConditionHelpersTests
{
    private static Plan PlanOne(string rules, string csv, string asOf = "2026-03-02T09:00:00Z", string extra = "")
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", csv);
        var file = workspace.Write("p.yaml", $"""
            playbook: p
            timezone: Europe/London
            source:
              kind: csv
              path: data.csv
              key: id
              timezone: Europe/London
              fields: {"{"} id: string, at: datetime?, on: date?, n: int?, revenue: decimal {"}"}
            {extra}
            rules:
            {rules}
            """);
        var result = TestEngine.Plan([file], DateTimeOffset.Parse(asOf, System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(result.Success, string.Join("\n", result.Diagnostics.Select(d => $"{d.Location.Line},{d.Location.Column}: {d.Message}")));
        return result.Plan!;
    }

    private const string Data = "id,at,on,n,revenue\nA,2026-01-30T08:00:00,2025-09-02,5,100\nB,,,,50\nC,2026-03-01T10:00:00,2026-03-02,9,10\n";

    [Fact]
    public void Days_since_counts_whole_days_and_missing_is_infinitely_long_ago()
    {
        var plan = PlanOne("""
              - id: old
                when: DaysSince(at) > 30
                message: "{{ id }} {{ days_since at }}"
            """, Data);
        Assert.Equal(["A 31", "B "], plan.Findings.Select(f => f.Message));
    }

    [Fact]
    public void Months_since_uses_calendar_months_and_dates()
    {
        var plan = PlanOne("""
              - id: six-months
                when: MonthsSince(on) >= 6
                message: "{{ id }} {{ months_since on }}"
            """, Data);
        Assert.Equal(["A 6", "B "], plan.Findings.Select(f => f.Message));
    }

    [Fact]
    public void Today_and_days_until_use_the_playbook_zone()
    {
        var plan = PlanOne("""
              - id: today
                when: on == Today || DaysUntil(on) == 0
            """, Data);
        Assert.Equal(["C"], plan.Findings.Select(f => f.Key));
    }

    [Fact]
    public void Nullable_fields_keep_their_nullable_type()
    {
        var plan = PlanOne("""
              - id: low
                when: n < 7
              - id: known
                when: n.HasValue && n.Value >= 9
            """, Data);
        Assert.Equal([("low", "A"), ("known", "C")], plan.Findings.Select(f => (f.Rule, f.Key)));
    }

    [Fact]
    public void Let_values_see_the_population()
    {
        var plan = PlanOne("""
              - id: key
                when: revenue >= key_revenue && revenue > average
                message: "{{ id }} {{ key_revenue }} {{ total }} {{ median_n }}"
            """, Data, extra: """
            let:
              key_revenue: ParetoThreshold(c => c.revenue, 0.6)
              total: Sum(c => c.revenue)
              average: Average(c => c.revenue) ?? 0m
              median_n: Percentile(c => c.n, 0.5)
            """);
        Assert.Equal(["A 100 160 7"], plan.Findings.Select(f => f.Message));
    }

    [Fact]
    public void A_throwing_condition_is_reported_and_other_rules_still_run()
    {
        var plan = PlanOne("""
              - id: boom
                when: at.Value.Year > 2000
              - id: fine
                when: revenue > 20
            """, Data);
        Assert.Equal([("boom", "A"), ("boom", "C"), ("fine", "A"), ("fine", "B")], plan.Findings.Select(f => (f.Rule, f.Key)));
        var error = Assert.Single(plan.Errors);
        Assert.Equal(("PB5001", "boom", "B"), (error.Id, error.Rule, error.Key));
        Assert.Equal("rule 'boom' threw for key 'B': InvalidOperationException: Nullable object must have a value", error.Message);
    }
}
