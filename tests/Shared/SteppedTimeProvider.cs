namespace PlaybookRunner.Tests.Shared;

/// <summary>A wall clock the test sets (<see cref="Now"/>), while delays and timers run in real time: for retry horizons across runs.</summary>
internal sealed class SteppedTimeProvider(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;
}
