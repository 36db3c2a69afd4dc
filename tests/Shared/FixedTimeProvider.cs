namespace PlaybookRunner.Tests.Shared;

/// <summary>A clock stopped at one instant, for tests of anything that takes a TimeProvider.</summary>
internal sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
