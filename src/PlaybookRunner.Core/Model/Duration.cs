using System.Globalization;
using System.Text.RegularExpressions;

namespace PlaybookRunner.Core.Model;

/// <summary>
/// A cooldown length: calendar months (applied in the playbook's time zone) plus exact time.
/// Written <c>12h</c>, <c>30d</c>, <c>2w</c>, <c>6mo</c>, <c>1y</c> or ISO 8601 (<c>P6M</c>, <c>P1Y2M</c>, <c>PT12H</c>).
/// </summary>
public readonly partial record struct Duration(int Months, TimeSpan Time)
{
    /// <summary>The longest duration accepted: 100 years.</summary>
    public const int MaxMonths = 1200;

    [GeneratedRegex(@"^(?<n>[0-9]{1,6})(?<u>h|d|w|mo|y)$", RegexOptions.CultureInvariant)]
    private static partial Regex Short();

    [GeneratedRegex(@"^P(?!$)(?:(?<y>[0-9]{1,4})Y)?(?:(?<mo>[0-9]{1,5})M)?(?:(?<w>[0-9]{1,5})W)?(?:(?<d>[0-9]{1,6})D)?(?:T(?=[0-9])(?:(?<h>[0-9]{1,6})H)?(?:(?<mi>[0-9]{1,7})M)?(?:(?<s>[0-9]{1,9})S)?)?$", RegexOptions.CultureInvariant)]
    private static partial Regex Iso();

    /// <summary>The duration in the short form: <c>14d</c>, <c>6mo</c>, <c>1y</c>, <c>12h</c>, or combined (<c>1mo 2d</c>).</summary>
    public override string ToString()
    {
        var parts = new List<string>();
        if (Months > 0)
        {
            parts.Add(Months % 12 == 0 ? $"{(Months / 12).ToString(CultureInfo.InvariantCulture)}y" : $"{Months.ToString(CultureInfo.InvariantCulture)}mo");
        }

        if (Time > TimeSpan.Zero)
        {
            parts.Add(Time.Ticks % TimeSpan.TicksPerDay == 0 ? $"{Time.Days.ToString(CultureInfo.InvariantCulture)}d"
                : Time.Ticks % TimeSpan.TicksPerHour == 0 ? $"{((long)Time.TotalHours).ToString(CultureInfo.InvariantCulture)}h"
                : $"{((long)Time.TotalSeconds).ToString(CultureInfo.InvariantCulture)}s");
        }

        return parts.Count == 0 ? "0d" : string.Join(' ', parts);
    }

    /// <summary>Parses a duration; false for anything else, including zero-length durations.</summary>
    public static bool TryParse(string text, out Duration duration)
    {
        duration = default;
        var m = Short().Match(text);
        if (m.Success)
        {
            var n = int.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
            if (m.Groups["u"].Value switch { "y" => n * 12L, "mo" => n, "w" => n * 7L / 31, "d" => n / 31L, _ => n / (31L * 24) } > MaxMonths)
            {
                return false;
            }

            duration = m.Groups["u"].Value switch
            {
                "h" => new Duration(0, TimeSpan.FromHours(n)),
                "d" => new Duration(0, TimeSpan.FromDays(n)),
                "w" => new Duration(0, TimeSpan.FromDays(7L * n)),
                "mo" => new Duration(n, TimeSpan.Zero),
                _ => new Duration(12 * n, TimeSpan.Zero),
            };
            return n > 0;
        }

        m = Iso().Match(text);
        if (!m.Success)
        {
            return false;
        }

        long Get(string g) => m.Groups[g].Success ? long.Parse(m.Groups[g].Value, CultureInfo.InvariantCulture) : 0;
        var months = (12 * Get("y")) + Get("mo");
        var seconds = (((7 * Get("w")) + Get("d")) * 86400) + (Get("h") * 3600) + (Get("mi") * 60) + Get("s");
        if (months > MaxMonths || seconds > MaxMonths * 31L * 86400)
        {
            return false;
        }

        duration = new Duration((int)months, TimeSpan.FromSeconds(seconds));
        return duration.Months > 0 || duration.Time > TimeSpan.Zero;
    }

    /// <summary>Adds this duration to an instant; months are calendar months in <paramref name="zone"/>.</summary>
    public DateTimeOffset AddTo(DateTimeOffset instant, TimeZoneInfo zone)
    {
        if (Months != 0)
        {
            var local = TimeZoneInfo.ConvertTime(instant, zone);
            var shifted = local.DateTime.AddMonths(Months);
            instant = new DateTimeOffset(shifted, zone.IsInvalidTime(shifted) ? zone.BaseUtcOffset : zone.GetUtcOffset(shifted));
        }

        return instant + Time;
    }
}
