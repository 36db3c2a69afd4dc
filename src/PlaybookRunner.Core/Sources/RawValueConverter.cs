using System.Globalization;
using PlaybookRunner.Abstractions;

namespace PlaybookRunner.Core.Sources;

/// <summary>
/// Applies a declared field type to a raw value from a non-text source (JSON, SQL, plugins). Text goes
/// through <see cref="FieldParser"/>; typed values convert only when nothing is lost.
/// </summary>
internal static class RawValueConverter
{
    public static bool TryConvert(object? raw, FieldType type, TimeZoneInfo zone, out object? value, out string problem)
    {
        try
        {
            return Convert(raw, type, zone, out value, out problem);
        }
        catch (ArgumentOutOfRangeException)
        {
            value = null;
            problem = $"{Describe(raw!)} is out of range for {FieldType.KindName(type.Kind)}";
            return false;
        }
    }

    private static bool Convert(object? raw, FieldType type, TimeZoneInfo zone, out object? value, out string problem)
    {
        value = null;
        problem = "";
        switch (raw)
        {
            case null or DBNull:
                return FieldParser.TryParse(null, type, zone, out value, out problem);
            case string text:
                return type.Kind == FieldKind.String || !string.IsNullOrWhiteSpace(text)
                    ? FieldParser.TryParse(text, type, zone, out value, out problem)
                    : FieldParser.TryParse(null, type, zone, out value, out problem);
        }

        value = type.Kind switch
        {
            FieldKind.String => raw switch
            {
                bool b => b ? "true" : "false",
                IFormattable f when raw is not DateTime and not DateTimeOffset and not DateOnly => f.ToString(null, CultureInfo.InvariantCulture),
                _ => null,
            },
            FieldKind.Int => raw switch
            {
                long l when l is >= int.MinValue and <= int.MaxValue => (int)l,
                int i => i,
                short s => (int)s,
                decimal d when d == decimal.Truncate(d) && d is >= int.MinValue and <= int.MaxValue => (int)d,
                _ => null,
            },
            FieldKind.Long => raw switch
            {
                long l => l,
                int i => (long)i,
                short s => (long)s,
                decimal d when d == decimal.Truncate(d) && d is >= long.MinValue and <= long.MaxValue => (long)d,
                _ => null,
            },
            FieldKind.Decimal => raw switch
            {
                decimal d => d,
                long l => (decimal)l,
                int i => (decimal)i,
                short s => (decimal)s,
                double d when double.IsFinite(d) && Math.Abs(d) < 7.9e28 => (decimal)d,
                float f when float.IsFinite(f) => (decimal)f,
                _ => null,
            },
            FieldKind.Double => raw switch
            {
                double d => d,
                float f => (double)f,
                decimal d => (double)d,
                long l => (double)l,
                int i => (double)i,
                short s => (double)s,
                _ => null,
            },
            FieldKind.Bool => raw switch
            {
                bool b => b,
                long l when l is 0 or 1 => l == 1,
                int i when i is 0 or 1 => i == 1,
                _ => null,
            },
            FieldKind.Date => raw switch
            {
                DateOnly d => d,
                DateTime t when t.TimeOfDay == TimeSpan.Zero => DateOnly.FromDateTime(t),
                _ => null,
            },
            FieldKind.DateTime => raw switch
            {
                DateTimeOffset o => o.UtcDateTime,
                DateTime { Kind: DateTimeKind.Utc } t => t,
                DateTime t => new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Unspecified),
                    zone.IsInvalidTime(t) ? zone.BaseUtcOffset : zone.GetUtcOffset(t)).UtcDateTime,
                DateOnly d => new DateTimeOffset(d.ToDateTime(TimeOnly.MinValue), zone.GetUtcOffset(d.ToDateTime(TimeOnly.MinValue))).UtcDateTime,
                _ => null,
            },
            FieldKind.StringArray => raw switch
            {
                string[] a => a,
                IEnumerable<string?> list => list.Where(s => !string.IsNullOrWhiteSpace(s)).Select(s => s!.Trim()).ToArray(),
                System.Collections.IEnumerable items when items.Cast<object?>().All(o => o is string or null) => items.Cast<string?>().Where(s => !string.IsNullOrWhiteSpace(s)).Select(s => s!.Trim()).ToArray(),
                _ => null,
            },
            _ => null,
        };
        if (value is null)
        {
            problem = $"{Describe(raw)} is not a valid {FieldType.KindName(type.Kind)}";
            return false;
        }

        return true;
    }

    private static string Describe(object raw) => raw switch
    {
        bool b => b ? "true" : "false",
        IFormattable f => $"'{f.ToString(null, CultureInfo.InvariantCulture)}'",
        System.Collections.IEnumerable => "a list",
        _ => $"a {raw.GetType().Name}",
    };
}
