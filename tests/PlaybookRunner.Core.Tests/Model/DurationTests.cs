using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Tests.Model;

public sealed class DurationTests
{
    [Theory]
    [InlineData("12h", 0, 12)]
    [InlineData("30d", 0, 720)]
    [InlineData("2w", 0, 336)]
    [InlineData("6mo", 6, 0)]
    [InlineData("1y", 12, 0)]
    [InlineData("P6M", 6, 0)]
    [InlineData("P1Y2M10D", 14, 240)]
    [InlineData("PT36H", 0, 36)]
    public void Parses_short_and_iso_forms(string text, int months, int hours)
    {
        Assert.True(Duration.TryParse(text, out var duration));
        Assert.Equal(new Duration(months, TimeSpan.FromHours(hours)), duration);
    }

    [Theory]
    [InlineData("30days")]
    [InlineData("0d")]
    [InlineData("P")]
    [InlineData("PT")]
    [InlineData("6 mo")]
    [InlineData("")]
    [InlineData("999999y")]
    [InlineData("999999w")]
    [InlineData("P9999Y")]
    public void Rejects_everything_else(string text) => Assert.False(Duration.TryParse(text, out _));

    [Fact]
    public void Months_are_calendar_months_in_the_zone()
    {
        var london = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");
        // 31 Jan + 1 month = 28 Feb (clamped), and across the March clock change the local time stays 09:00.
        var start = new DateTimeOffset(2026, 1, 31, 9, 0, 0, TimeSpan.Zero);
        Assert.Equal(new DateTimeOffset(2026, 2, 28, 9, 0, 0, TimeSpan.Zero), new Duration(1, TimeSpan.Zero).AddTo(start, london));
        Assert.Equal(new DateTimeOffset(2026, 4, 30, 9, 0, 0, TimeSpan.FromHours(1)), new Duration(3, TimeSpan.Zero).AddTo(start, london));
    }
}
