using System.Globalization;

namespace PlaybookRunner.Runtime;

/// <summary>
/// Every date and time format PlaybookRunner writes or reads, by name, in one place. All use the invariant
/// culture: a plan, a key or a stored instant reads the same on every machine.
/// </summary>
public static class DateFormats
{
    /// <summary>A calendar date: <c>2026-03-02</c> (YAML dates, keys, suppressions).</summary>
    public const string Date = "yyyy-MM-dd";

    /// <summary>An instant as people read it, with its offset: <c>2026-03-02T09:00:00+00:00</c> (plans, reports, CLI output).</summary>
    public const string Instant = "yyyy-MM-dd'T'HH:mm:sszzz";

    /// <summary>An instant as the state store keeps it, in UTC, sorting as text: <c>2026-03-02T09:00:00.0000000Z</c>.</summary>
    public const string StoredInstant = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";

    /// <summary>An instant inside an idempotency key, in UTC: <c>20260302T090000.000Z</c>.</summary>
    public const string KeyInstant = "yyyyMMdd'T'HHmmss.fff'Z'";

    /// <summary>A date and time without an offset: <c>2026-03-02T09:00:00</c> (explain's values).</summary>
    public const string LocalDateTime = "yyyy-MM-dd'T'HH:mm:ss";

    /// <summary>An instant on the daemon's status page, in UTC: <c>2026-03-02 09:00:00Z</c>.</summary>
    public const string StatusInstant = "yyyy-MM-dd HH:mm:ss'Z'";

    /// <summary>The timestamp of a daemon's text log line, in UTC.</summary>
    public const string TextLogTimestamp = "yyyy-MM-dd'T'HH:mm:ss'Z' ";

    /// <summary>The timestamp of a daemon's JSON log line, in UTC.</summary>
    public const string JsonLogTimestamp = "yyyy-MM-dd'T'HH:mm:ss.fffK";

    /// <summary>What <c>--as-of</c> accepts: a date, or a date and time with or without seconds, fractions and offset.</summary>
    public static readonly string[] AsOfInputs =
    [
        Date, "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF",
        "yyyy-MM-dd'T'HH:mmK", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
    ];

    /// <summary>What a date-and-time cell of a source may hold (an offset, if any, is read apart).</summary>
    public static readonly string[] CellDateTimeInputs =
    [
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF", LocalDateTime, "yyyy-MM-dd'T'HH:mm",
        "yyyy-MM-dd HH:mm:ss.FFFFFFF", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm", Date,
    ];

    /// <summary>Formats a date as <see cref="Date"/>.</summary>
    public static string FormatDate(DateOnly date) => date.ToString(Date, CultureInfo.InvariantCulture);

    /// <summary>Formats an instant as <see cref="Instant"/>, keeping its offset.</summary>
    public static string FormatInstant(DateTimeOffset instant) => instant.ToString(Instant, CultureInfo.InvariantCulture);

    /// <summary>Formats an instant as <see cref="StoredInstant"/>, in UTC.</summary>
    public static string FormatStored(DateTimeOffset instant) => instant.UtcDateTime.ToString(StoredInstant, CultureInfo.InvariantCulture);
}
