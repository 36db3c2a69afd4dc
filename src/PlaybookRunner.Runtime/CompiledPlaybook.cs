using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;

namespace PlaybookRunner.Runtime;

/// <summary>
/// Base of each generated playbook class. The generated <c>Evaluate</c> computes the <c>let</c> values
/// once, then runs every segment and rule for each record in one loop. Public members here
/// (other than those starting with <c>__</c>) are the helpers of spec section 5, visible in expressions.
/// </summary>
[SuppressMessage("Naming", "CA1707", Justification = "__ marks members hidden from playbook expressions.")]
[SuppressMessage("Style", "IDE1006", Justification = "__ marks members hidden from playbook expressions.")]
public abstract partial class CompiledPlaybook<TRecord> : IPlaybookEntry, IEvaluationClock
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
    private string[] _valueNames = [];
    private BusinessCalendar _calendar = BusinessCalendar.Default;
    private TRecord? _current;
    private long _deadline;
    private EvaluationWatchdog.Handle? _watch;
    private long _recordBaseline = -1;
    private long _excludedTicks;
    private long _guardCalls;
    private string _where = "between records";

    /// <summary>The most one record's segments and rules may allocate before the evaluation is stopped.</summary>
    public const long MaxBytesPerRecord = 512L * 1024 * 1024;

    /// <summary>
    /// What a <c>let</c> may allocate per record of its population on top of <see cref="MaxBytesPerRecord"/>: an
    /// aggregate reads every record once (a view of it and its value), so what it allocates grows with the
    /// population (10,000,000 customers: about 2.9 GB), while the process's heap limit still bounds what it holds.
    /// </summary>
    public const long LetBytesPerRecord = 256;

    private long _allowance = MaxBytesPerRecord;

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
        TimeSpan budget,
        IFindingHandler? onFinding = null)
    {
        _population = population;
        _sink = new EvaluationSink { OnFinding = onFinding };
        _history = history;
        _zone = playbook.TimeZone;
        _playbookId = playbook.Id;
        _ruleIds = [.. playbook.RuleIds];
        _letNames = [.. playbook.LetNames];
        _segmentNames = [.. playbook.SegmentNames];
        _valueNames = [.. playbook.ValueNames];
        _calendar = playbook.Calendar;
        _sink.Lets = new object?[_letNames.Length];
        Now = now;
        Today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, _zone).DateTime);
        // Environment.TickCount64 is a coarse monotonic clock (a few ns to read), cheap enough for every record.
        _deadline = Environment.TickCount64 + (long)budget.TotalMilliseconds;
        var culture = System.Globalization.CultureInfo.CurrentCulture;
        var uiCulture = System.Globalization.CultureInfo.CurrentUICulture;
        using var watch = EvaluationWatchdog.Watch(_playbookId, budget);
        _watch = watch;
        try
        {
            // Expressions see one culture everywhere, so string comparison and formatting never depend on the machine.
            System.Globalization.CultureInfo.CurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
            System.Globalization.CultureInfo.CurrentUICulture = System.Globalization.CultureInfo.InvariantCulture;
            if (onFinding is not null)
            {
                onFinding.Clock = this;
            }

            __Evaluate(records);
            if (onFinding is not null)
            {
                // The findings still being rendered are finished within the evaluation: a render that fails is reported as if it had failed as its finding fired.
                onFinding.Finish();
            }
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
            _sink.MemoryAllowance = _allowance;
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
    EvaluationSink IPlaybookEntry.__RunAny(IReadOnlyList<GeneratedRecord> population, IEnumerable<GeneratedRecord> records, DateTimeOffset now, PlaybookShape playbook, IFiringHistory history, TimeSpan budget, IFindingHandler? onFinding)
    {
        if (records is IFedRecords fed)
        {
            // Waiting for a streamed source is not the conditions' time: the budget and the watchdog leave it out.
            fed.Clock = this;
        }

        var typed = new TypedList(population);
        return __Run(typed, ReferenceEquals(records, population) ? typed : records.Cast<TRecord>(), now, playbook, history, budget, onFinding);
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
        _allowance = MaxBytesPerRecord;
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
        else if (allocated - _recordBaseline > _allowance)
        {
            throw new BudgetExceededException(memory: true);
        }
    }

    protected T __Let<T>(int index, Func<T> compute)
    {
        _where = $"let '{_letNames[index]}'";
        _recordBaseline = -1;
        _allowance = MaxBytesPerRecord + (_population.Count * LetBytesPerRecord);
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

    protected void __Fire(int rule, TRecord record, bool[] segments) => __Fire(rule, record, segments, []);

    /// <summary>A rule held for <paramref name="record"/>: the finding, with its segments and computed values, goes to the planner.</summary>
    protected void __Fire(int rule, TRecord record, bool[] segments, object?[] values) => __Fire(rule, record, segments, values, -1);

    /// <summary>As above, for a rule another rule may inhibit: <paramref name="inhibitedBy"/> is the one holding for the record, or -1.</summary>
    protected void __Fire(int rule, TRecord record, bool[] segments, object?[] values, int inhibitedBy)
    {
        Hand(new RawFinding(rule, record, segments) { Values = values, InhibitedBy = inhibitedBy });
    }

    /// <summary>Moves the deadline (and the watchdog's) later by time the budget does not count: rendering, waiting for the source.</summary>
    void IEvaluationClock.NotCounted(long stopwatchTicks) => NotCounted(stopwatchTicks);

    private void NotCounted(long stopwatchTicks)
    {
        if (NotCountedMilliseconds(stopwatchTicks) is > 0 and var milliseconds)
        {
            _watch?.Extend(milliseconds);
        }
    }

    void IEvaluationClock.BudgetNotCounted(long stopwatchTicks) => NotCountedMilliseconds(stopwatchTicks);

    void IEvaluationClock.WatchdogNotCounted(long milliseconds) => _watch?.Extend(milliseconds);

    private long NotCountedMilliseconds(long stopwatchTicks)
    {
        _excludedTicks += stopwatchTicks;
        var milliseconds = _excludedTicks * 1000 / Stopwatch.Frequency;
        if (milliseconds > 0)
        {
            _excludedTicks -= milliseconds * Stopwatch.Frequency / 1000;
            _deadline += milliseconds;
        }

        return milliseconds;
    }

    void IEvaluationClock.Waiting() => _watch?.Pause();

    void IEvaluationClock.Waited(long stopwatchTicks)
    {
        // Extended before resumed, so that the watchdog never sees the wait counted.
        NotCounted(stopwatchTicks);
        _watch?.Resume();
    }

    private void Hand(RawFinding finding)
    {
        if (_sink.OnFinding is { } onFinding)
        {
            // The budget is the conditions': the handler tells the clock the time it spends on the finding (rendering it,
            // here or on another thread), so a large rollout's messages do not use it up. One render is bounded by the
            // template limits, and one that runs past the watchdog's grace still stops the process.
            onFinding.Found(finding, _sink.Lets);
        }
        else
        {
            _sink.Findings.Add(finding);
        }
    }

    /// <summary>
    /// A rule with <c>on_resolve:</c> does not hold for <paramref name="record"/>: when it held at the latest recorded
    /// evaluation and fired during that hold, the resolution goes to the planner like a finding.
    /// </summary>
    protected void __Resolve(int rule, TRecord record, bool[] segments, object?[] values)
    {
        if (_history.Holding(_playbookId, _ruleIds[rule], record.Key) is { FiredAt: { } firedAt } hold)
        {
            Hand(new RawFinding(rule, record, segments) { Values = values, Resolves = true, FiredAt = firedAt, Since = hold.Since });
        }
    }

    protected void __RuleFailed(int rule, TRecord record, Exception exception) => Failed($"rule '{_ruleIds[rule]}'", record, exception);

    protected void __SegmentFailed(int segment, TRecord record, Exception exception) => Failed($"segment '{_segmentNames[segment]}'", record, exception);

    /// <summary>A computed value threw for <paramref name="record"/>: reported like a segment, and the record is skipped by this playbook.</summary>
    protected void __ValueFailed(int value, TRecord record, Exception exception) => Failed($"value '{_valueNames[value]}'", record, exception);

    /// <summary>An expression threw for one record: an error of the plan, unless the budget ran out (which stops the evaluation).</summary>
    private void Failed(string where, TRecord record, Exception exception)
    {
        if (exception is BudgetExceededException || (exception is OutOfMemoryException && HeapLimit.Megabytes is not null))
        {
            _where = where;
            throw exception as BudgetExceededException ?? new BudgetExceededException((OutOfMemoryException)exception);
        }

        _sink.Errors.Add(new RawError(where, record.Key, exception));
    }

    /// <summary>When <paramref name="ruleId"/> of this playbook last fired for the current customer.</summary>
    public DateTimeOffset? LastFired(string ruleId) =>
        _current is null ? null : _history.LastFired(_playbookId, ruleId, _current.Key);

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
