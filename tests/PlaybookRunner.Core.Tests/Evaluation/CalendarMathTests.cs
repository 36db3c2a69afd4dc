using PlaybookRunner.Core.Evaluation;

namespace PlaybookRunner.Core.Tests.Evaluation;

public sealed class CalendarMathTests
{
    [Theory]
    [InlineData("2025-09-02T00:00", "2026-03-02T00:00", 6)]
    [InlineData("2025-09-02T10:00", "2026-03-02T09:00", 5)]
    [InlineData("2025-09-03T00:00", "2026-03-02T00:00", 5)]
    [InlineData("2026-01-31T00:00", "2026-02-28T00:00", 1)]
    [InlineData("2026-01-31T00:00", "2026-02-27T00:00", 0)]
    [InlineData("2026-01-31T10:00", "2026-02-28T09:00", 0)]
    [InlineData("2026-01-31T10:00", "2026-02-28T10:00", 1)]
    [InlineData("2026-03-02T00:00", "2026-03-02T00:00", 0)]
    [InlineData("2026-05-02T00:00", "2026-03-02T00:00", -2)]
    [InlineData("2026-05-03T00:00", "2026-03-02T00:00", -2)]
    [InlineData("2026-05-01T00:00", "2026-03-02T00:00", -1)]
    public void Months_between_counts_whole_calendar_months(string from, string to, int expected)
    {
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        Assert.Equal(expected, CalendarMath.MonthsBetween(DateTime.Parse(from, culture), DateTime.Parse(to, culture)));
    }
}
