namespace PlaybookRunner.Runtime;

/// <summary>Marks a helper that aggregates the whole population: allowed in <c>let</c> only.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class PopulationAggregateAttribute : Attribute;

/// <summary>How the engine runs a generated playbook without knowing its record type.</summary>
internal interface IPlaybookEntry
{
    EvaluationSink __RunAny(IReadOnlyList<GeneratedRecord> population, IEnumerable<GeneratedRecord> records, DateTimeOffset now, PlaybookShape playbook, IFiringHistory history, TimeSpan budget, IFindingHandler? onFinding);
}

/// <summary>
/// Records fed by a reader on another thread (a streamed source). The time budget counts the conditions, not
/// the source: the sequence tells the evaluation's clock when it starts waiting for the reader and how long it waited.
/// </summary>
internal interface IFedRecords
{
    IEvaluationClock? Clock { get; set; }
}

/// <summary>
/// What the engine does with each finding as it fires (renders it and lets the record go). The time it takes is not the
/// conditions' and is left out of the time budget: the handler reports it to the <see cref="IEvaluationClock"/> it is given.
/// </summary>
internal interface IFindingHandler
{
    /// <summary>Set by the evaluation before the first finding.</summary>
    IEvaluationClock? Clock { get; set; }

    /// <summary>One finding, in the order the findings fire; the let values are the same array for every finding.</summary>
    void Found(RawFinding finding, object?[] lets);

    /// <summary>The records have ended: every finding handed over is dealt with before this returns.</summary>
    void Finish();
}

/// <summary>The evaluation's time budget and watchdog, told about time that is not the conditions'.</summary>
internal interface IEvaluationClock
{
    /// <summary>On the evaluating thread: <paramref name="stopwatchTicks"/> of it were not the conditions' (the budget and the watchdog leave them out).</summary>
    void NotCounted(long stopwatchTicks);

    /// <summary>On the evaluating thread: time spent waiting for work done on another thread, which reports it through <see cref="WatchdogNotCounted"/>; only the budget leaves it out.</summary>
    void BudgetNotCounted(long stopwatchTicks);

    /// <summary>From any thread: <paramref name="milliseconds"/> of work done for the evaluation on another thread, which the watchdog leaves out.</summary>
    void WatchdogNotCounted(long milliseconds);

    /// <summary>On the evaluating thread: it starts waiting for its streamed source (the watchdog is paused).</summary>
    void Waiting();

    /// <summary>On the evaluating thread: the wait that <see cref="Waiting"/> began is over after <paramref name="stopwatchTicks"/>, which are not counted.</summary>
    void Waited(long stopwatchTicks);
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

    /// <summary>When an action of the rule's firings for the customer was last delivered (succeeded); null when none was.</summary>
    DateTimeOffset? LastDelivered(string playbook, string rule, string key) => null;

    /// <summary>
    /// For a rule the store follows (<c>for:</c>, <c>on_resolve:</c>): since when its condition has held for the customer at
    /// every evaluation up to the latest one, and when the rule fired during that hold (null: not yet). Null when the
    /// condition did not hold at the latest evaluation (or none was recorded).
    /// </summary>
    (DateTimeOffset Since, DateTimeOffset? FiredAt)? Holding(string playbook, string rule, string key) => null;

    /// <summary>How many times the rule fired (for any customer) at or after <paramref name="since"/> and before <paramref name="until"/>: what a throttle's per_day counts.</summary>
    int FiredBetween(string playbook, string rule, DateTimeOffset since, DateTimeOffset until) => 0;

    /// <summary>How many actions were recorded in <paramref name="lane"/> (a channel's) for firings at or after <paramref name="since"/> and before <paramref name="until"/>.</summary>
    int RecordedBetween(string lane, DateTimeOffset since, DateTimeOffset until) => 0;
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
