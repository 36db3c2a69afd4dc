using System.Globalization;

namespace PlaybookRunner.Core.Model;

/// <summary>
/// runner.yaml's <c>execution:</c>, parsed once, with every default in this one place (the schema bounds the values).
/// </summary>
public sealed record ExecutionOptions
{
    /// <summary>Attempts per action within one execution; 1 means no retry.</summary>
    public int MaxAttempts { get; init; } = 4;

    /// <summary>The first retry delay, doubled each attempt.</summary>
    public TimeSpan Backoff { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long one webhook request or SMTP step may take.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a transient failure is retried across runs, from its first failure; zero: within one execution only.</summary>
    public TimeSpan RetryHorizon { get; init; } = TimeSpan.FromMinutes(60);

    /// <summary>How long one evaluation of a playbook may run (PB5003).</summary>
    public TimeSpan EvaluationBudget { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The daemon's evaluation worker's heap limit, in MB (PB5007).</summary>
    public int WorkerMemoryMb { get; init; } = 2048;

    /// <summary>How long the daemon's evaluation worker may take for one tick (PB5008).</summary>
    public TimeSpan WorkerTimeout { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>Actions of one channel the daemon executes at a time, unless the channel sets <c>concurrency</c>.</summary>
    public int ChannelConcurrency { get; init; } = 4;

    /// <summary>Pending actions above which the daemon records no new tick and reports itself unhealthy.</summary>
    public int MaxBacklog { get; init; } = 10_000;

    /// <summary>The defaults, for a runner.yaml without <c>execution:</c>.</summary>
    public static ExecutionOptions Default { get; } = new();

    /// <summary>Reads the keys the schema allows; a key not given keeps its default.</summary>
    public static ExecutionOptions From(IReadOnlyDictionary<string, string> settings)
    {
        int? Int(string name) => settings.TryGetValue(name, out var text) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;
        var d = Default;
        return new ExecutionOptions
        {
            MaxAttempts = Int("max_attempts") ?? d.MaxAttempts,
            Backoff = Int("backoff_ms") is { } backoff ? TimeSpan.FromMilliseconds(backoff) : d.Backoff,
            Timeout = Int("timeout_seconds") is { } timeout ? TimeSpan.FromSeconds(timeout) : d.Timeout,
            RetryHorizon = Int("retry_horizon_minutes") is { } horizon ? TimeSpan.FromMinutes(horizon) : d.RetryHorizon,
            EvaluationBudget = Int("evaluation_budget_ms") is { } budget ? TimeSpan.FromMilliseconds(budget) : d.EvaluationBudget,
            WorkerMemoryMb = Int("worker_memory_mb") ?? d.WorkerMemoryMb,
            WorkerTimeout = Int("worker_timeout_seconds") is { } worker ? TimeSpan.FromSeconds(worker) : d.WorkerTimeout,
            ChannelConcurrency = Math.Max(1, Int("channel_concurrency") ?? d.ChannelConcurrency),
            MaxBacklog = Int("max_backlog") ?? d.MaxBacklog,
        };
    }
}
