using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;

namespace PlaybookRunner.Runtime;

/// <summary>Marks a helper that aggregates the whole population: allowed in <c>let</c> only.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class PopulationAggregateAttribute : Attribute;

/// <summary>How the engine runs a generated playbook without knowing its record type.</summary>
internal interface IPlaybookEntry
{
    EvaluationSink __RunAny(IReadOnlyList<GeneratedRecord> population, IEnumerable<GeneratedRecord> records, DateTimeOffset now, PlaybookShape playbook, IFiringHistory history, TimeSpan budget);
}

/// <summary>A population held in memory that can be let go once the last <c>let</c> has been computed (a column store).</summary>
internal interface IReleasablePopulation
{
    void Release();
}

/// <summary>Looks up when a rule last fired for a customer (the state store; empty until one is configured).</summary>
internal interface IFiringHistory
{
    /// <summary>When the rule last fired for the customer and something of it was (or may still be) delivered.</summary>
    DateTimeOffset? LastFired(string playbook, string rule, string key);

    /// <summary>The latest firing none of whose actions was delivered (all dead letters), when it is later than <see cref="LastFired"/>.</summary>
    (DateTimeOffset FiredAt, string Error)? LastDeadLetter(string playbook, string rule, string key) => null;
}

/// <summary>A history with no firings.</summary>
internal sealed class EmptyHistory : IFiringHistory
{
    public static readonly EmptyHistory Instance = new();

    public DateTimeOffset? LastFired(string playbook, string rule, string key) => null;
}

/// <summary>Thrown by a generated playbook when a <c>let</c> expression fails.</summary>
internal sealed class LetFailedException(int index, Exception inner) : Exception(inner.Message, inner)
{
    public int Index { get; } = index;
}

/// <summary>
/// Base of each generated playbook class. The generated <c>Evaluate</c> computes the <c>let</c> values
/// once, then runs every segment and rule for each record in one loop. Public members here
/// (other than those starting with <c>__</c>) are the helpers of spec section 5, visible in expressions.
/// </summary>
[SuppressMessage("Naming", "CA1707", Justification = "__ marks members hidden from playbook expressions.")]
[SuppressMessage("Style", "IDE1006", Justification = "__ marks members hidden from playbook expressions.")]
public abstract class CompiledPlaybook<TRecord> : IPlaybookEntry
    where TRecord : GeneratedRecord
{
    private IReadOnlyList<TRecord> _population = [];
    private EvaluationSink _sink = new();
    private IFiringHistory _history = EmptyHistory.Instance;
    private TimeZoneInfo _zone = TimeZoneInfo.Utc;
    private string _playbookId = "";
    private string[] _ruleIds = [];
    private string[] _letNames = [];
    private string[] _segmentNames = [];
    private TRecord? _current;
    private long _deadline;
    private long _recordBaseline = -1;
    private long _guardCalls;
    private string _where = "between records";

    /// <summary>The most one record's segments and rules may allocate before the evaluation is stopped.</summary>
    public const long MaxBytesPerRecord = 512L * 1024 * 1024;

    /// <summary>How many lambda calls pass between two looks at the clock and the allocation counter.</summary>
    public const int CallsPerCheck = 16;

    /// <summary>The evaluation instant (<c>plan --as-of</c>).</summary>
    public DateTimeOffset Now { get; private set; }

    /// <summary>Today's date in the playbook's time zone.</summary>
    public DateOnly Today { get; private set; }

    /// <summary>
    /// Runs the playbook and returns what fired. <paramref name="population"/> is what <c>let</c>
    /// aggregates see; <paramref name="records"/> are evaluated one at a time as they arrive (a stream
    /// from the source, or the population itself).
    /// </summary>
    internal EvaluationSink __Run(
        IReadOnlyList<TRecord> population,
        IEnumerable<TRecord> records,
        DateTimeOffset now,
        PlaybookShape playbook,
        IFiringHistory history,
        TimeSpan budget)
    {
        _population = population;
        _sink = new EvaluationSink();
        _history = history;
        _zone = playbook.TimeZone;
        _playbookId = playbook.Id;
        _ruleIds = [.. playbook.RuleIds];
        _letNames = [.. playbook.LetNames];
        _segmentNames = [.. playbook.SegmentNames];
        _sink.Lets = new object?[_letNames.Length];
        Now = now;
        Today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, _zone).DateTime);
        // Environment.TickCount64 is a coarse monotonic clock (a few ns to read), cheap enough for every record.
        _deadline = Environment.TickCount64 + (long)budget.TotalMilliseconds;
        var culture = System.Globalization.CultureInfo.CurrentCulture;
        var uiCulture = System.Globalization.CultureInfo.CurrentUICulture;
        using var watch = EvaluationWatchdog.Watch(_playbookId, budget);
        try
        {
            // Expressions see one culture everywhere, so string comparison and formatting never depend on the machine.
            System.Globalization.CultureInfo.CurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
            System.Globalization.CultureInfo.CurrentUICulture = System.Globalization.CultureInfo.InvariantCulture;
            __Evaluate(records);
        }
        catch (LetFailedException ex)
        {
            _sink.Errors.Add(new RawError($"let '{_letNames[ex.Index]}'", "", ex.InnerException!));
        }
        catch (BudgetExceededException ex)
        {
            _sink.BudgetExceeded = true;
            _sink.BudgetKey = _current?.Key ?? "";
            _sink.BudgetWhere = _where;
            _sink.BudgetMemory = ex.Memory;
            _sink.OutOfMemory = ex.InnerException is OutOfMemoryException;
        }
        catch (OutOfMemoryException) when (HeapLimit.Megabytes is not null)
        {
            // Outside any rule (between records): the heap limit of the process was reached.
            _sink.BudgetExceeded = _sink.BudgetMemory = _sink.OutOfMemory = true;
            _sink.BudgetKey = _current?.Key ?? "";
            _sink.BudgetWhere = _where;
        }
        finally
        {
            System.Globalization.CultureInfo.CurrentCulture = culture;
            System.Globalization.CultureInfo.CurrentUICulture = uiCulture;
        }

        return _sink;
    }

    /// <summary>The untyped entry point the engine calls.</summary>
    EvaluationSink IPlaybookEntry.__RunAny(IReadOnlyList<GeneratedRecord> population, IEnumerable<GeneratedRecord> records, DateTimeOffset now, PlaybookShape playbook, IFiringHistory history, TimeSpan budget)
    {
        var typed = new TypedList(population);
        return __Run(typed, ReferenceEquals(records, population) ? typed : records.Cast<TRecord>(), now, playbook, history, budget);
    }

    protected abstract void __Evaluate(IEnumerable<TRecord> records);

    /// <summary>In a playbook compiled for explanation: records one sub-expression's value for the current record.</summary>
    protected T __X<T>(int rule, int node, T value)
    {
        if (ExplainSink.Current is { } sink && _current is { } record)
        {
            var key = record.Key;
            if (sink.Key is null || sink.Key == key)
            {
                sink.Record(_playbookId, rule, key, node, value);
            }
        }

        return value;
    }

    /// <summary>In a playbook compiled for explanation: notes that the explained customer's record exists.</summary>
    protected void __Seen()
    {
        if (ExplainSink.Current is { } sink && _current is { } record && (sink.Key is null || sink.Key == record.Key))
        {
            sink.Seen.Add((_playbookId, record.Key));
        }
    }

    /// <summary>
    /// Called before each record: a look at a coarse clock, so that records that are slow without any
    /// lambda (long string operations) still stop at the budget, and nothing else.
    /// </summary>
    protected void __Begin(TRecord record)
    {
        _current = record;
        _where = "between records";
        _recordBaseline = -1;
        if (Environment.TickCount64 > _deadline)
        {
            throw new BudgetExceededException(memory: false);
        }
    }

    /// <summary>
    /// Wrapped around every lambda body of a condition, segment or let: LINQ calls it for each item, so a
    /// huge or nested iteration is stopped within the time budget, and one that allocates without bound
    /// at <see cref="MaxBytesPerRecord"/>, even inside a single record. Checks every
    /// <see cref="CallsPerCheck"/> calls, so that a cheap lambda over a short list costs a counter.
    /// </summary>
    protected T __G<T>(T value)
    {
        if (++_guardCalls % CallsPerCheck == 0)
        {
            Check();
        }

        return value;
    }

    private void Check()
    {
        if (Environment.TickCount64 > _deadline)
        {
            throw new BudgetExceededException(memory: false);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread();
        if (_recordBaseline < 0)
        {
            _recordBaseline = allocated;
        }
        else if (allocated - _recordBaseline > MaxBytesPerRecord)
        {
            throw new BudgetExceededException(memory: true);
        }
    }

    protected T __Let<T>(int index, Func<T> compute)
    {
        _where = $"let '{_letNames[index]}'";
        _recordBaseline = -1;
        Check();

        try
        {
            var value = compute();
            _sink.Lets[index] = value;
            if (index == _letNames.Length - 1)
            {
                // Aggregates are allowed in lets only: after the last one the population is not needed
                // while the records are evaluated. A column store is emptied (callers up the stack may
                // still hold a reference to it).
                if (_population is TypedList { Inner: IReleasablePopulation columns })
                {
                    columns.Release();
                }

                _population = [];
            }

            ExplainSink.Current?.Lets.TryAdd((_playbookId, index), value);
            return value;
        }
        catch (OutOfMemoryException ex) when (HeapLimit.Megabytes is not null)
        {
            throw new BudgetExceededException(ex);
        }
        catch (Exception ex) when (ex is not BudgetExceededException)
        {
            throw new LetFailedException(index, ex);
        }
    }

    protected void __Fire(int rule, TRecord record, bool[] segments) => _sink.Findings.Add(new RawFinding(rule, record, segments));

    protected void __RuleFailed(int rule, TRecord record, Exception exception)
    {
        if (exception is BudgetExceededException || (exception is OutOfMemoryException && HeapLimit.Megabytes is not null))
        {
            _where = $"rule '{_ruleIds[rule]}'";
            throw exception as BudgetExceededException ?? new BudgetExceededException((OutOfMemoryException)exception);
        }

        _sink.Errors.Add(new RawError($"rule '{_ruleIds[rule]}'", record.Key, exception));
    }

    protected void __SegmentFailed(int segment, TRecord record, Exception exception)
    {
        if (exception is BudgetExceededException || (exception is OutOfMemoryException && HeapLimit.Megabytes is not null))
        {
            _where = $"segment '{_segmentNames[segment]}'";
            throw exception as BudgetExceededException ?? new BudgetExceededException((OutOfMemoryException)exception);
        }

        _sink.Errors.Add(new RawError($"segment '{_segmentNames[segment]}'", record.Key, exception));
    }

    /// <summary>When <paramref name="ruleId"/> of this playbook last fired for the current customer.</summary>
    public DateTimeOffset? LastFired(string ruleId) =>
        _current is null ? null : _history.LastFired(_playbookId, ruleId, _current.Key);

    // ----- elapsed time (spec section 5): whole units to Now; missing = infinitely long ago -----

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

    // ----- population aggregates (let only) -----

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

    /// <summary>The population seen as records of the generated type, without copying it.</summary>
    private sealed class TypedList(IReadOnlyList<GeneratedRecord> inner) : IReadOnlyList<TRecord>
    {
        public IReadOnlyList<GeneratedRecord> Inner => inner;

        public TRecord this[int index] => (TRecord)inner[index];

        public int Count => inner.Count;

        public IEnumerator<TRecord> GetEnumerator()
        {
            foreach (var record in inner)
            {
                yield return (TRecord)record;
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private sealed class BudgetExceededException : Exception
    {
        public BudgetExceededException(bool memory) => Memory = memory;

        /// <summary>The process reached its heap limit (the daemon's worker runs under one) inside an expression.</summary>
        public BudgetExceededException(OutOfMemoryException inner)
            : base(inner.Message, inner) => Memory = true;

        public bool Memory { get; }
    }
}
