using System.Globalization;
using System.Text.RegularExpressions;
using PlaybookRunner.Abstractions;

namespace PlaybookRunner.Runtime;

/// <summary>
/// Turns text cells into typed values by the rules of spec section 4: blank is missing, nothing is
/// silently coerced, datetime without an offset is read in the source's time zone.
/// </summary>
internal static partial class FieldParser
{

    [GeneratedRegex(@"(Z|[+-][0-9]{2}:?[0-9]{2})$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex Offset();

    /// <summary>
    /// Why a key cannot be used, or null: a control character (a stray CR from <c>\r\r\n</c> line endings, a
    /// tab) would be kept in the key, and keys are matched exactly (related lists, history, suppressions), so
    /// the record would silently match nothing.
    /// </summary>
    public static string? KeyProblem(ReadOnlySpan<char> key)
    {
        foreach (var c in key)
        {
            if (char.IsControl(c))
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"has a control character (U+{(int)c:X4}) in the key: keys are matched exactly (related lists, history, suppressions), so the record would silently match nothing; fix the data (a stray CR from \\r\\r\\n line endings, a tab)");
            }
        }

        return null;
    }

    /// <summary>Parses one cell. Returns false with a reason ("is missing", "'x' is not a valid int").</summary>
    public static bool TryParse(string? cell, FieldType type, TimeZoneInfo zone, out object? value, out string problem)
    {
        value = null;
        problem = "";
        if (string.IsNullOrWhiteSpace(cell))
        {
            if (type.IsNullable)
            {
                return true;
            }

            problem = "is missing";
            return false;
        }

        var text = type.Kind == FieldKind.String ? cell : cell.Trim();
        var ok = type.Kind switch
        {
            FieldKind.String => Set(text, out value),
            FieldKind.Int => Try(int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i), i, out value),
            FieldKind.Long => Try(long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l), l, out value),
            FieldKind.Decimal => Try(decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var m), m, out value),
            FieldKind.Double => Try(double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d), d, out value),
            FieldKind.Bool => TryBool(text, out value),
            FieldKind.Date => Try(TryParseDate(text, out var date), date, out value),
            FieldKind.DateTime => TryDateTime(text, zone, out value),
            FieldKind.StringArray => Set(text.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries), out value),
            _ => false,
        };
        if (!ok)
        {
            problem = $"'{Shorten(cell)}' is not a valid {FieldType.KindName(type.Kind)}{Hint(type.Kind)}";
        }

        return ok;
    }

    /// <summary>True for the kinds <see cref="TryParseNumberOrDate"/> reads straight from the cell, without a string.</summary>
    public static bool ParsesFromSpan(FieldKind kind) => kind is FieldKind.Int or FieldKind.Long or FieldKind.Decimal or FieldKind.Double or FieldKind.Bool or FieldKind.Date;

    /// <summary>true/false, yes/no or 1/0, in any case; null when it is none of them.</summary>
    public static bool? ParseBool(ReadOnlySpan<char> text) =>
        text.Equals("true", StringComparison.OrdinalIgnoreCase) || text.Equals("yes", StringComparison.OrdinalIgnoreCase) || text is "1" ? true
        : text.Equals("false", StringComparison.OrdinalIgnoreCase) || text.Equals("no", StringComparison.OrdinalIgnoreCase) || text is "0" ? false
        : null;

    /// <summary>
    /// A date written yyyy-MM-dd. The common case (ten characters, digits where digits go, a real day) is
    /// read directly, several times faster than the format parser; anything else goes to
    /// <see cref="DateOnly.TryParseExact(ReadOnlySpan{char}, ReadOnlySpan{char}, IFormatProvider?, DateTimeStyles, out DateOnly)"/>, so both accept exactly the same texts.
    /// </summary>
    public static bool TryParseDate(ReadOnlySpan<char> text, out DateOnly date)
    {
        if (text.Length == 10 && text[4] == '-' && text[7] == '-'
            && Digits(text[..4], out var year) && Digits(text.Slice(5, 2), out var month) && Digits(text.Slice(8, 2), out var day)
            && year >= 1 && month is >= 1 and <= 12 && day >= 1 && day <= DateTime.DaysInMonth(year, month))
        {
            date = new DateOnly(year, month, day);
            return true;
        }

        return DateOnly.TryParseExact(text, DateFormats.Date, CultureInfo.InvariantCulture, DateTimeStyles.None, out date);
    }

    private static bool Digits(ReadOnlySpan<char> text, out int value)
    {
        value = 0;
        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            value = value * 10 + c - '0';
        }

        return true;
    }

    private static readonly object True = true;
    private static readonly object False = false;

    /// <summary>
    /// The fast path of <see cref="TryParse"/> for the kinds of <see cref="ParsesFromSpan"/>: the same
    /// rules, read from the reader's buffer. False means "not valid"; the caller then asks
    /// <see cref="TryParse"/> for the reason, so both paths report one message.
    /// </summary>
    public static bool TryParseNumberOrDate(ReadOnlySpan<char> cell, FieldType type, out object? value)
    {
        var text = cell.Trim();
        value = null;
        if (text.IsEmpty)
        {
            return type.IsNullable;
        }

        switch (type.Kind)
        {
            case FieldKind.Int when int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i):
                value = i;
                return true;
            case FieldKind.Long when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l):
                value = l;
                return true;
            case FieldKind.Decimal when decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var m):
                value = m;
                return true;
            case FieldKind.Double when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d):
                value = d;
                return true;
            case FieldKind.Date when TryParseDate(text, out var date):
                value = date;
                return true;
            case FieldKind.Bool:
                value = ParseBool(text) switch { true => True, false => False, null => null };
                return value is not null;
            default:
                return false;
        }
    }

    private static string Hint(FieldKind kind) => kind switch
    {
        FieldKind.Date => " (expected yyyy-MM-dd)",
        FieldKind.DateTime => " (expected ISO 8601, e.g. 2026-03-02T09:00:00 or 2026-03-02T09:00:00Z)",
        FieldKind.Bool => " (expected true/false, yes/no or 1/0)",
        FieldKind.Decimal or FieldKind.Double => " (expected a number with '.' as decimal point)",
        _ => "",
    };

    private static string Shorten(string text) => text.Length <= 60 ? text : string.Concat(text.AsSpan(0, 57), "...");

    private static bool Set(object v, out object? value)
    {
        value = v;
        return true;
    }

    private static bool Try<T>(bool ok, T parsed, out object? value)
    {
        value = ok ? parsed : null;
        return ok;
    }

    private static bool TryBool(string text, out object? value)
    {
        value = text.ToLowerInvariant() switch
        {
            "true" or "yes" or "1" => true,
            "false" or "no" or "0" => false,
            _ => null,
        };
        return value is not null;
    }

    private static bool TryDateTime(string text, TimeZoneInfo zone, out object? value)
    {
        value = null;
        if (Offset().IsMatch(text))
        {
            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var withOffset))
            {
                value = withOffset.UtcDateTime;
                return true;
            }

            return false;
        }

        if (!DateTime.TryParseExact(text, DateFormats.CellDateTimeInputs, CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
        {
            return false;
        }

        // A local time in a spring-forward gap does not exist; read it with the zone's standard offset.
        var offset = zone.IsInvalidTime(local) ? zone.BaseUtcOffset : zone.GetUtcOffset(local);
        var utcTicks = local.Ticks - offset.Ticks;
        if (utcTicks < DateTime.MinValue.Ticks || utcTicks > DateTime.MaxValue.Ticks)
        {
            return false;
        }

        value = new DateTimeOffset(local, offset).UtcDateTime;
        return true;
    }
}
