namespace PlaybookRunner.Runtime;

/// <summary>A rule that held for a record, with the segment and computed values at that moment (for templates and the plan).</summary>
internal sealed record RawFinding(int RuleIndex, GeneratedRecord Record, bool[] Segments)
{
    /// <summary>The playbook's computed values for the record, in file order.</summary>
    public object?[] Values { get; init; } = [];

    /// <summary>The index of a rule that holds for the record and inhibits this one (<c>inhibits:</c>); -1 when none.</summary>
    public int InhibitedBy { get; init; } = -1;

    /// <summary>
    /// True for a resolution: the rule's condition is false for the record, and the rule fired for it during a hold
    /// the state store follows (<c>on_resolve:</c>); <see cref="FiredAt"/> and <see cref="Since"/> say when.
    /// </summary>
    public bool Resolves { get; init; }

    /// <summary>For a resolution: when the rule fired during the hold that ended.</summary>
    public DateTimeOffset FiredAt { get; init; }

    /// <summary>For a resolution: since when the condition had held.</summary>
    public DateTimeOffset Since { get; init; }
}

/// <summary>An expression that threw for one record (or a let value that threw for the population).</summary>
internal sealed record RawError(string Where, string Key, Exception Exception);

/// <summary>What one evaluation of a playbook produced.</summary>
internal sealed class EvaluationSink
{
    public List<RawFinding> Findings { get; } = [];

    /// <summary>
    /// When set, each finding is handed here as it fires, with the let values, instead of being kept in
    /// <see cref="Findings"/>: the planner renders it and lets the record go (findings never all held).
    /// </summary>
    public IFindingHandler? OnFinding { get; init; }

    public List<RawError> Errors { get; } = [];

    public object?[] Lets { get; set; } = [];

    public bool BudgetExceeded { get; set; }

    public string? BudgetKey { get; set; }

    /// <summary>Where the budget ran out: rule 'x', segment 'y', let 'z', or between records.</summary>
    public string BudgetWhere { get; set; } = "between records";

    /// <summary>What the stopped record or let was allowed to allocate, when the memory limit stopped it.</summary>
    public long MemoryAllowance { get; set; }

    /// <summary>True when the memory limit, not the time budget, stopped the evaluation.</summary>
    public bool BudgetMemory { get; set; }

    /// <summary>True when the memory stop was the process's heap limit (an out-of-memory error), not the per-record limit.</summary>
    public bool OutOfMemory { get; set; }
}
