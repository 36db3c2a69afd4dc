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

    /// <summary>True when <paramref name="day"/> is a working day of the business calendar (runner.yaml <c>calendar:</c>) and not a holiday.</summary>
    public bool IsBusinessDay(DateOnly day) => _calendar.IsBusinessDay(day);

    /// <inheritdoc cref="IsBusinessDay(DateOnly)"/>
    public bool IsBusinessDay(DateTime value) => _calendar.IsBusinessDay(LocalDate(ToInstant(value)));

    /// <inheritdoc cref="IsBusinessDay(DateOnly)"/>
    public bool IsBusinessDay(DateTimeOffset value) => _calendar.IsBusinessDay(LocalDate(value));

    /// <summary>The date <paramref name="days"/> business days after <paramref name="day"/> (skipping weekends and holidays): a due date.</summary>
    public DateOnly AddBusinessDays(DateOnly day, int days) => _calendar.AddBusinessDays(day, days);

    /// <inheritdoc cref="AddBusinessDays(DateOnly, int)"/>
    public DateOnly AddBusinessDays(DateTime value, int days) => _calendar.AddBusinessDays(LocalDate(ToInstant(value)), days);

    /// <inheritdoc cref="AddBusinessDays(DateOnly, int)"/>
    public DateOnly AddBusinessDays(DateTimeOffset value, int days) => _calendar.AddBusinessDays(LocalDate(value), days);

    /// <summary>Business days after <paramref name="value"/>'s date up to and including <see cref="Today"/>; <see cref="int.MaxValue"/> when missing.</summary>
    public int BusinessDaysSince(DateOnly? value) => value is { } v ? _calendar.BusinessDaysBetween(v, Today) : int.MaxValue;

    /// <inheritdoc cref="BusinessDaysSince(DateOnly?)"/>
    public int BusinessDaysSince(DateTime? value) => value is { } v ? _calendar.BusinessDaysBetween(LocalDate(ToInstant(v)), Today) : int.MaxValue;

    /// <inheritdoc cref="BusinessDaysSince(DateOnly?)"/>
    public int BusinessDaysSince(DateTimeOffset? value) => value is { } v ? _calendar.BusinessDaysBetween(LocalDate(v), Today) : int.MaxValue;

    /// <summary>Business days after <see cref="Today"/> up to and including <paramref name="value"/>'s date; <see cref="int.MaxValue"/> when missing.</summary>
    public int BusinessDaysUntil(DateOnly? value) => value is { } v ? _calendar.BusinessDaysBetween(Today, v) : int.MaxValue;

    /// <inheritdoc cref="BusinessDaysUntil(DateOnly?)"/>
    public int BusinessDaysUntil(DateTime? value) => value is { } v ? _calendar.BusinessDaysBetween(Today, LocalDate(ToInstant(v))) : int.MaxValue;

    /// <inheritdoc cref="BusinessDaysUntil(DateOnly?)"/>
    public int BusinessDaysUntil(DateTimeOffset? value) => value is { } v ? _calendar.BusinessDaysBetween(Today, LocalDate(v)) : int.MaxValue;

    private static DateTimeOffset ToInstant(DateTime value) =>
        value.Kind == DateTimeKind.Local ? new DateTimeOffset(value.ToUniversalTime(), TimeSpan.Zero) : new DateTimeOffset(DateTime.SpecifyKind(value, DateTimeKind.Utc), TimeSpan.Zero);

    private static int ClampDays(double days) => (int)Math.Clamp(Math.Floor(days), int.MinValue, int.MaxValue - 1);

    private DateOnly LocalDate(DateTimeOffset instant) => DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(instant, _zone).DateTime);

    private DateTime Local(DateTimeOffset instant) => TimeZoneInfo.ConvertTime(instant, _zone).DateTime;
}
