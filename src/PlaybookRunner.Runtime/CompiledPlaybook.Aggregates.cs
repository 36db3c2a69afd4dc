namespace PlaybookRunner.Runtime;

/// <summary>The population aggregates: allowed in <c>let</c> only, computed once per evaluation.</summary>
public abstract partial class CompiledPlaybook<TRecord>
{
    /// <summary>How many records satisfy <paramref name="predicate"/>.</summary>
    [PopulationAggregate]
    public int Count(Func<TRecord, bool> predicate) => _population.Count(predicate);

    /// <summary>How many records there are.</summary>
    [PopulationAggregate]
    public int Count() => _population.Count;

    [PopulationAggregate] public long Sum(Func<TRecord, int> s) => Values(s).Sum(v => (long)v);
    [PopulationAggregate] public long Sum(Func<TRecord, int?> s) => Values(s).Sum(v => (long)v);
    [PopulationAggregate] public long Sum(Func<TRecord, long> s) => Values(s).Sum();
    [PopulationAggregate] public long Sum(Func<TRecord, long?> s) => Values(s).Sum();
    [PopulationAggregate] public decimal Sum(Func<TRecord, decimal> s) => Values(s).Sum();
    [PopulationAggregate] public decimal Sum(Func<TRecord, decimal?> s) => Values(s).Sum();
    [PopulationAggregate] public double Sum(Func<TRecord, double> s) => Values(s).Sum();
    [PopulationAggregate] public double Sum(Func<TRecord, double?> s) => Values(s).Sum();

    [PopulationAggregate] public double? Average(Func<TRecord, int> s) => AverageOf(Values(s).Select(v => (double)v));
    [PopulationAggregate] public double? Average(Func<TRecord, int?> s) => AverageOf(Values(s).Select(v => (double)v));
    [PopulationAggregate] public double? Average(Func<TRecord, long> s) => AverageOf(Values(s).Select(v => (double)v));
    [PopulationAggregate] public double? Average(Func<TRecord, long?> s) => AverageOf(Values(s).Select(v => (double)v));
    [PopulationAggregate] public decimal? Average(Func<TRecord, decimal> s) => Values(s).DefaultIfEmptyAverage();
    [PopulationAggregate] public decimal? Average(Func<TRecord, decimal?> s) => Values(s).DefaultIfEmptyAverage();
    [PopulationAggregate] public double? Average(Func<TRecord, double> s) => AverageOf(Values(s));
    [PopulationAggregate] public double? Average(Func<TRecord, double?> s) => AverageOf(Values(s));

    [PopulationAggregate] public int? Min(Func<TRecord, int> s) => MinOf(Values(s));
    [PopulationAggregate] public int? Min(Func<TRecord, int?> s) => MinOf(Values(s));
    [PopulationAggregate] public long? Min(Func<TRecord, long> s) => MinOf(Values(s));
    [PopulationAggregate] public long? Min(Func<TRecord, long?> s) => MinOf(Values(s));
    [PopulationAggregate] public decimal? Min(Func<TRecord, decimal> s) => MinOf(Values(s));
    [PopulationAggregate] public decimal? Min(Func<TRecord, decimal?> s) => MinOf(Values(s));
    [PopulationAggregate] public double? Min(Func<TRecord, double> s) => MinOf(Values(s));
    [PopulationAggregate] public double? Min(Func<TRecord, double?> s) => MinOf(Values(s));
    [PopulationAggregate] public DateTime? Min(Func<TRecord, DateTime?> s) => MinOf(Values(s));
    [PopulationAggregate] public DateOnly? Min(Func<TRecord, DateOnly?> s) => MinOf(Values(s));

    [PopulationAggregate] public int? Max(Func<TRecord, int> s) => MaxOf(Values(s));
    [PopulationAggregate] public int? Max(Func<TRecord, int?> s) => MaxOf(Values(s));
    [PopulationAggregate] public long? Max(Func<TRecord, long> s) => MaxOf(Values(s));
    [PopulationAggregate] public long? Max(Func<TRecord, long?> s) => MaxOf(Values(s));
    [PopulationAggregate] public decimal? Max(Func<TRecord, decimal> s) => MaxOf(Values(s));
    [PopulationAggregate] public decimal? Max(Func<TRecord, decimal?> s) => MaxOf(Values(s));
    [PopulationAggregate] public double? Max(Func<TRecord, double> s) => MaxOf(Values(s));
    [PopulationAggregate] public double? Max(Func<TRecord, double?> s) => MaxOf(Values(s));
    [PopulationAggregate] public DateTime? Max(Func<TRecord, DateTime?> s) => MaxOf(Values(s));
    [PopulationAggregate] public DateOnly? Max(Func<TRecord, DateOnly?> s) => MaxOf(Values(s));

    /// <summary>
    /// The p-th percentile (0..1) by linear interpolation between closest ranks (Excel PERCENTILE.INC,
    /// numpy's default); null when there are no values.
    /// </summary>
    [PopulationAggregate] public double? Percentile(Func<TRecord, int> s, double p) => Aggregates.Percentile(Values(s).Select(v => (double)v), p);
    [PopulationAggregate] public double? Percentile(Func<TRecord, int?> s, double p) => Aggregates.Percentile(Values(s).Select(v => (double)v), p);
    [PopulationAggregate] public double? Percentile(Func<TRecord, long> s, double p) => Aggregates.Percentile(Values(s).Select(v => (double)v), p);
    [PopulationAggregate] public double? Percentile(Func<TRecord, long?> s, double p) => Aggregates.Percentile(Values(s).Select(v => (double)v), p);
    [PopulationAggregate] public double? Percentile(Func<TRecord, double> s, double p) => Aggregates.Percentile(Values(s), p);
    [PopulationAggregate] public double? Percentile(Func<TRecord, double?> s, double p) => Aggregates.Percentile(Values(s), p);
    [PopulationAggregate] public decimal? Percentile(Func<TRecord, decimal> s, double p) => Aggregates.Percentile(Values(s), p);
    [PopulationAggregate] public decimal? Percentile(Func<TRecord, decimal?> s, double p) => Aggregates.Percentile(Values(s), p);

    /// <summary>
    /// The largest value t such that records with a value of at least t hold at least
    /// <paramref name="share"/> of the total (the 80/20 rule). With no positive total, the type's
    /// maximum, so that <c>x &gt;= t</c> holds for nobody.
    /// </summary>
    [PopulationAggregate] public decimal ParetoThreshold(Func<TRecord, decimal> s, double share) => Aggregates.Pareto(Values(s), share, decimal.MaxValue);
    [PopulationAggregate] public decimal ParetoThreshold(Func<TRecord, decimal?> s, double share) => Aggregates.Pareto(Values(s), share, decimal.MaxValue);
    [PopulationAggregate] public double ParetoThreshold(Func<TRecord, double> s, double share) => Aggregates.Pareto(Values(s), share, double.MaxValue);
    [PopulationAggregate] public double ParetoThreshold(Func<TRecord, double?> s, double share) => Aggregates.Pareto(Values(s), share, double.MaxValue);
    [PopulationAggregate] public long ParetoThreshold(Func<TRecord, long> s, double share) => Aggregates.Pareto(Values(s), share, long.MaxValue);
    [PopulationAggregate] public long ParetoThreshold(Func<TRecord, long?> s, double share) => Aggregates.Pareto(Values(s), share, long.MaxValue);
    [PopulationAggregate] public int ParetoThreshold(Func<TRecord, int> s, double share) => (int)Aggregates.Pareto(Values(s).Select(v => (long)v), share, int.MaxValue);
    [PopulationAggregate] public int ParetoThreshold(Func<TRecord, int?> s, double share) => (int)Aggregates.Pareto(Values(s).Select(v => (long)v), share, int.MaxValue);

    /// <summary>The selected value of every record, in a new array (aggregates may sort it in place).</summary>
    private T[] Values<T>(Func<TRecord, T> selector)
    {
        var population = _population;
        var values = new T[population.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = selector(population[i]);
        }

        return values;
    }

    /// <summary>The selected values that are not null, in a new array.</summary>
    private T[] Values<T>(Func<TRecord, T?> selector)
        where T : struct
    {
        var population = _population;
        var values = new T[population.Count];
        var count = 0;
        for (var i = 0; i < values.Length; i++)
        {
            if (selector(population[i]) is { } value)
            {
                values[count++] = value;
            }
        }

        return count == values.Length ? values : values[..count];
    }

    private static double? AverageOf(IEnumerable<double> values) => values.Any() ? values.Average() : null;

    private static T? MinOf<T>(IEnumerable<T> values)
        where T : struct, IComparable<T> => values.Any() ? values.Min() : null;

    private static T? MaxOf<T>(IEnumerable<T> values)
        where T : struct, IComparable<T> => values.Any() ? values.Max() : null;
}
