using PlaybookRunner.Runtime;

namespace PlaybookRunner.Core.Tests.Evaluation;

/// <summary>
/// The business calendar (runner.yaml <c>calendar:</c>): working days and holidays, counted arithmetically and checked
/// against a day-by-day count; its helpers in conditions and templates; a holiday that is not a date.
/// </summary>
public sealed class BusinessCalendarTests
{
    private static readonly DateOnly Christmas = new(2026, 12, 25);
    private static readonly BusinessCalendar Uk = new([DayOfWeek.Monday, DayOfWeek.Tuesday, DayOfWeek.Wednesday, DayOfWeek.Thursday, DayOfWeek.Friday], [Christmas, new(2026, 12, 28), new(2027, 1, 1), new(2026, 12, 26)]);

    [Theory]
    [InlineData("2026-12-24", 1, "2026-12-29")]   // Thu + 1: Fri 25 and Mon 28 are holidays, the weekend is not worked
    [InlineData("2026-12-29", -1, "2026-12-24")]
    [InlineData("2026-12-26", 0, "2026-12-29")]   // a Saturday holiday: the next business day
    [InlineData("2026-12-23", 0, "2026-12-23")]
    [InlineData("2026-12-21", 10, "2027-01-07")]
    public void Adding_business_days_skips_weekends_and_holidays(string from, int days, string expected) =>
        Assert.Equal(DateOnly.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), Uk.AddBusinessDays(DateOnly.Parse(from, System.Globalization.CultureInfo.InvariantCulture), days));

    [Fact]
    public void Counting_by_whole_weeks_agrees_with_counting_day_by_day_for_any_two_dates()
    {
        var random = new Random(21);
        var calendars = new[]
        {
            Uk,
            new BusinessCalendar([DayOfWeek.Sunday, DayOfWeek.Monday, DayOfWeek.Tuesday, DayOfWeek.Wednesday, DayOfWeek.Thursday], [new(2026, 3, 29), new(2026, 4, 2)]),
            new BusinessCalendar([DayOfWeek.Saturday], []),
        };
        foreach (var calendar in calendars)
        {
            for (var i = 0; i < 2000; i++)
            {
                var from = new DateOnly(2026, 1, 1).AddDays(random.Next(0, 800));
                var to = from.AddDays(random.Next(-60, 400));
                var naive = 0;
                for (var d = (to > from ? from : to).AddDays(1); d <= (to > from ? to : from); d = d.AddDays(1))
                {
                    naive += calendar.IsBusinessDay(d) ? 1 : 0;
                }

                Assert.Equal(to >= from ? naive : -naive, calendar.BusinessDaysBetween(from, to));
            }
        }
    }

    [Fact]
    public void A_count_too_large_to_mean_anything_is_refused_and_a_calendar_needs_a_working_day()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Uk.AddBusinessDays(Christmas, int.MaxValue));
        Assert.Throws<ArgumentOutOfRangeException>(() => Uk.AddBusinessDays(Christmas, int.MinValue));
        Assert.Throws<ArgumentException>(() => new BusinessCalendar([], []));
    }

    [Fact]
    public async Task Conditions_and_templates_count_business_days_with_the_calendar_of_runner_yaml()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("customers.csv", "id,opened\nA,2026-12-22\nB,2026-12-29\n");
        workspace.Write("runner.yaml", """
            sources:
              crm: { kind: csv, path: customers.csv, key: id, fields: { id: string, opened: date } }
            calendar:
              working_days: [mon, tue, wed, thu, fri]
              holidays: [2026-12-25, 2026-12-28, 2027-01-01]
            """);
        workspace.Write("p.yaml", """
            playbook: p
            source: crm
            values:
              waiting: BusinessDaysSince(opened)
              due: AddBusinessDays(opened, 5)
            rules:
              - id: slow
                when: waiting > 3 && IsBusinessDay(Today)
                message: "{{ id }}: {{ business_days_since opened }} business days; answer by {{ add_business_days now 2 | date.to_string '%Y-%m-%d' }}"
            """);

        // Wednesday 30 December: A opened Tue 22nd, 4 business days since (23, 24, 29, 30); B opened Tue 29th, 1.
        var plan = (await TestEngine.PlanAsync([workspace.Root], new DateTimeOffset(2026, 12, 30, 9, 0, 0, TimeSpan.Zero))).Plan!;
        Assert.Empty(plan.Errors);
        var finding = Assert.Single(plan.Findings);
        Assert.Equal(("A", "A: 4 business days; answer by 2027-01-04"), (finding.Key, finding.Message));
        Assert.Equal([("waiting", "4"), ("due", "\"2026-12-31\"")], finding.Values);
    }

    [Fact]
    public void A_holiday_that_is_not_a_date_is_an_error_at_its_position()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("customers.csv", "id\nA\n");
        workspace.Write("runner.yaml", """
            sources:
              crm: { kind: csv, path: customers.csv, key: id, fields: { id: string } }
            calendar:
              holidays: [2026-12-25, 2026-13-40]
            """);
        workspace.Write("p.yaml", "playbook: p\nsource: crm\nrules:\n  - { id: r, when: \"true\" }\n");
        var result = TestEngine.Validate([workspace.Root]);
        var error = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.Equal((4, 26), (error.Location.Line, error.Location.Column));
        Assert.Contains("2026-13-40", error.Message, StringComparison.Ordinal);
    }
}
