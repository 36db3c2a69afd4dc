namespace PlaybookRunner.Runtime;

/// <summary>Calendar arithmetic shared by conditions and templates, so both count months alike.</summary>
internal static class CalendarMath
{
    /// <summary>
    /// Whole calendar months from one local date and time to another. A month is complete on the same
    /// day of month (or on the last day of a shorter month), matching how cooldowns add months.
    /// </summary>
    public static int MonthsBetween(DateTime from, DateTime to)
    {
        var months = ((to.Year - from.Year) * 12) + to.Month - from.Month;
        if (months > 0 && from.AddMonths(months) > to)
        {
            months--;
        }
        else if (months < 0 && from.AddMonths(months) < to)
        {
            months++;
        }

        return months;
    }
}
