namespace PlaybookRunner.Runtime;

/// <summary>
/// The business calendar of runner.yaml (<c>calendar:</c>): which weekdays are working days (Monday to Friday unless
/// set) and which dates are holidays. Counting is arithmetic over whole weeks plus a search of the holidays, so a
/// condition over a date years back costs the same as one over yesterday.
/// </summary>
public sealed class BusinessCalendar
{
    /// <summary>At most this many business days are added in one call (about 400 years): a larger count is a mistake.</summary>
    public const int MaxDays = 100_000;

    private readonly bool[] _working = new bool[7];
    private readonly int _perWeek;
    private readonly int[] _holidays;

    /// <summary>A calendar of <paramref name="workingDays"/> (at least one) and <paramref name="holidays"/>.</summary>
    public BusinessCalendar(IEnumerable<DayOfWeek> workingDays, IEnumerable<DateOnly> holidays)
    {
        foreach (var day in workingDays)
        {
            _working[(int)day] = true;
        }

        _perWeek = _working.Count(w => w);
        if (_perWeek == 0)
        {
            throw new ArgumentException("A business calendar needs at least one working day", nameof(workingDays));
        }

        // Only holidays that fall on a working day change a count.
        _holidays = [.. holidays.Where(h => _working[(int)h.DayOfWeek]).Select(h => h.DayNumber).Distinct().Order()];
    }

    /// <summary>Monday to Friday, no holidays.</summary>
    public static BusinessCalendar Default { get; } = new([DayOfWeek.Monday, DayOfWeek.Tuesday, DayOfWeek.Wednesday, DayOfWeek.Thursday, DayOfWeek.Friday], []);

    /// <summary>True when <paramref name="day"/> is a working day and not a holiday.</summary>
    public bool IsBusinessDay(DateOnly day) => _working[(int)day.DayOfWeek] && Array.BinarySearch(_holidays, day.DayNumber) < 0;

    /// <summary>
    /// The business day <paramref name="days"/> business days after <paramref name="day"/> (before it when negative); with
    /// 0, <paramref name="day"/> itself if it is a business day, else the next one (a due date never falls on a holiday).
    /// </summary>
    public DateOnly AddBusinessDays(DateOnly day, int days)
    {
        if (Math.Abs((long)days) > MaxDays)
        {
            throw new ArgumentOutOfRangeException(nameof(days), $"at most {MaxDays} business days can be added at once");
        }

        if (days == 0)
        {
            while (!IsBusinessDay(day))
            {
                day = day.AddDays(1);
            }

            return day;
        }

        var step = Math.Sign(days);
        while (days != 0)
        {
            day = day.AddDays(step);
            if (IsBusinessDay(day))
            {
                days -= step;
            }
        }

        return day;
    }

    /// <summary>Business days after <paramref name="from"/> up to and including <paramref name="to"/>; negative when <paramref name="to"/> is earlier.</summary>
    public int BusinessDaysBetween(DateOnly from, DateOnly to)
    {
        if (to < from)
        {
            return -BusinessDaysBetween(to, from);
        }

        var span = to.DayNumber - from.DayNumber;
        var count = span / 7 * _perWeek;
        for (var d = from.DayNumber + (span / 7 * 7) + 1; d <= to.DayNumber; d++)
        {
            count += _working[(int)DateOnly.FromDayNumber(d).DayOfWeek] ? 1 : 0;
        }

        return count - (Upper(to.DayNumber) - Upper(from.DayNumber));
    }

    /// <summary>How many holidays (on working days) fall on or before day number <paramref name="day"/>.</summary>
    private int Upper(int day)
    {
        var at = Array.BinarySearch(_holidays, day);
        return at >= 0 ? at + 1 : ~at;
    }
}
