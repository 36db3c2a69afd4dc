using PlaybookRunner.Abstractions;
using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Core.Tests.Sources;

public sealed class FieldParserTests
{
    private static readonly TimeZoneInfo London = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");

    private static object? Parse(string? cell, string type, TimeZoneInfo? zone = null)
    {
        Assert.True(FieldType.TryParse(type, out var t));
        Assert.True(FieldParser.TryParse(cell, t.Value, zone ?? TimeZoneInfo.Utc, out var value, out var problem), problem);
        return value;
    }

    private static string Problem(string? cell, string type)
    {
        Assert.True(FieldType.TryParse(type, out var t));
        Assert.False(FieldParser.TryParse(cell, t.Value, TimeZoneInfo.Utc, out _, out var problem));
        return problem;
    }

    [Fact]
    public void Typed_values_parse_invariantly()
    {
        Assert.Equal(42, Parse(" 42 ", "int"));
        Assert.Equal(1234.5m, Parse("1234.50", "decimal"));
        Assert.Equal(true, Parse("Yes", "bool"));
        Assert.Equal(false, Parse("0", "bool"));
        Assert.Equal(new DateOnly(2026, 2, 28), Parse("2026-02-28", "date"));
        Assert.Equal(new[] { "vip", "key" }, (string[])Parse("vip; key;", "string[]")!);
    }

    [Theory]
    [InlineData("2024-02-29")]
    [InlineData("2023-02-29")]
    [InlineData("2026-04-31")]
    [InlineData("2026-12-31")]
    [InlineData("0001-01-01")]
    [InlineData("0000-01-01")]
    [InlineData("9999-12-31")]
    [InlineData("2026-13-01")]
    [InlineData("2026-00-10")]
    [InlineData("2026-1-01")]
    [InlineData("2026/01/01")]
    [InlineData("20260101")]
    [InlineData("2026-01-01T")]
    [InlineData("+026-01-01")]
    [InlineData("2026-0a-01")]
    [InlineData("\uFF12\uFF10\uFF12\uFF16-01-01")]
    [InlineData("")]
    public void The_fast_date_path_accepts_exactly_what_the_format_parser_accepts(string text)
    {
        var expected = DateOnly.TryParseExact(text, DateFormats.Date, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var date);
        Assert.Equal((expected, date), (FieldParser.TryParseDate(text, out var fast), fast));
    }

    [Fact]
    public void Datetime_without_offset_is_read_in_the_source_zone()
    {
        // 12:00 in London in summer is 11:00 UTC.
        Assert.Equal(new DateTime(2026, 7, 1, 11, 0, 0, DateTimeKind.Utc), Parse("2026-07-01T12:00:00", "datetime", London));
        Assert.Equal(new DateTime(2026, 7, 1, 12, 0, 0, DateTimeKind.Utc), Parse("2026-07-01T12:00:00Z", "datetime", London));
        Assert.Equal(new DateTime(2026, 7, 1, 10, 0, 0, DateTimeKind.Utc), Parse("2026-07-01T12:00:00+02:00", "datetime", London));
    }

    [Fact]
    public void Datetimes_outside_the_representable_range_are_bad_values_not_crashes()
    {
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        Assert.True(FieldType.TryParse("datetime", out var type));
        Assert.False(FieldParser.TryParse("0001-01-01", type.Value, berlin, out _, out var problem));
        Assert.StartsWith("'0001-01-01' is not a valid datetime", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Blank_is_missing_and_never_coerced()
    {
        Assert.Null(Parse("   ", "int?"));
        Assert.Equal("is missing", Problem(" ", "int"));
        Assert.Equal("'1,5' is not a valid decimal (expected a number with '.' as decimal point)", Problem("1,5", "decimal"));
        Assert.Equal("'maybe' is not a valid bool (expected true/false, yes/no or 1/0)", Problem("maybe", "bool"));
        Assert.Equal("'02/03/2026' is not a valid date (expected yyyy-MM-dd)", Problem("02/03/2026", "date"));
        Assert.Equal("'3.0' is not a valid int", Problem("3.0", "int"));
    }
}
