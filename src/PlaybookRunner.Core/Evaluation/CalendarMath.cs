namespace PlaybookRunner.Core.Evaluation;

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
        var toIsMonthEnd = to.Day == DateTime.DaysInMonth(to.Year, to.Month);
        if (months > 0 && ((to.Day < from.Day && !toIsMonthEnd) || (to.Day == from.Day && to.TimeOfDay < from.TimeOfDay)))
        {
            months--;
        }
        else if (months < 0 && (to.Day > from.Day || (to.Day == from.Day && to.TimeOfDay > from.TimeOfDay)))
        {
            months++;
        }

        return months;
    }
}
