namespace PlaybookRunner.Runtime;

/// <summary>The elapsed-time helpers (whole units to <c>Now</c>; a missing value is infinitely long ago).</summary>
public abstract partial class CompiledPlaybook<TRecord>
{
    /// <summary>Whole days from <paramref name="value"/> to <see cref="Now"/>; <see cref="int.MaxValue"/> when missing.</summary>
    public int DaysSince(DateTime? value) => value is { } v ? ClampDays((Now - ToInstant(v)).TotalDays) : int.MaxValue;

    /// <inheritdoc cref="DaysSince(DateTime?)"/>
    public int DaysSince(DateTimeOffset? value) => value is { } v ? ClampDays((Now - v).TotalDays) : int.MaxValue;

    /// <summary>Whole calendar days from <paramref name="value"/> to <see cref="Today"/>.</summary>
    public int DaysSince(DateOnly? value) => value is { } v ? Today.DayNumber - v.DayNumber : int.MaxValue;

    /// <summary>Whole calendar months elapsed to <see cref="Now"/>, in the playbook's time zone.</summary>
    public int MonthsSince(DateTime? value) => value is { } v ? CalendarMath.MonthsBetween(Local(ToInstant(v)), Local(Now)) : int.MaxValue;

    /// <inheritdoc cref="MonthsSince(DateTime?)"/>
    public int MonthsSince(DateTimeOffset? value) => value is { } v ? CalendarMath.MonthsBetween(Local(v), Local(Now)) : int.MaxValue;

    /// <inheritdoc cref="MonthsSince(DateTime?)"/>
    public int MonthsSince(DateOnly? value) => value is { } v ? CalendarMath.MonthsBetween(v.ToDateTime(TimeOnly.MinValue), Today.ToDateTime(TimeOnly.MinValue)) : int.MaxValue;

    /// <summary>Whole years elapsed to <see cref="Now"/>.</summary>
    public int YearsSince(DateTime? value) => value is null ? int.MaxValue : MonthsSince(value) / 12;

    /// <inheritdoc cref="YearsSince(DateTime?)"/>
    public int YearsSince(DateTimeOffset? value) => value is null ? int.MaxValue : MonthsSince(value) / 12;

    /// <inheritdoc cref="YearsSince(DateTime?)"/>
    public int YearsSince(DateOnly? value) => value is null ? int.MaxValue : MonthsSince(value) / 12;

    /// <summary>Whole calendar days from <see cref="Today"/> until <paramref name="value"/>; <see cref="int.MaxValue"/> when missing.</summary>
    public int DaysUntil(DateOnly? value) => value is { } v ? v.DayNumber - Today.DayNumber : int.MaxValue;

    /// <inheritdoc cref="DaysUntil(DateOnly?)"/>
    public int DaysUntil(DateTime? value) => value is { } v ? LocalDate(ToInstant(v)).DayNumber - Today.DayNumber : int.MaxValue;

    /// <inheritdoc cref="DaysUntil(DateOnly?)"/>
    public int DaysUntil(DateTimeOffset? value) => value is { } v ? LocalDate(v).DayNumber - Today.DayNumber : int.MaxValue;

    private static DateTimeOffset ToInstant(DateTime value) =>
        value.Kind == DateTimeKind.Local ? new DateTimeOffset(value.ToUniversalTime(), TimeSpan.Zero) : new DateTimeOffset(DateTime.SpecifyKind(value, DateTimeKind.Utc), TimeSpan.Zero);

    private static int ClampDays(double days) => (int)Math.Clamp(Math.Floor(days), int.MinValue, int.MaxValue - 1);

    private DateOnly LocalDate(DateTimeOffset instant) => DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(instant, _zone).DateTime);

    private DateTime Local(DateTimeOffset instant) => TimeZoneInfo.ConvertTime(instant, _zone).DateTime;
}
