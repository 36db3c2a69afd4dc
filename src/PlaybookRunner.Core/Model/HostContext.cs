namespace PlaybookRunner.Core.Model;

/// <summary>
/// What the engine takes from the process it runs in: the clock and the operator's environment variables
/// (which secrets a workspace may read, extra roots, plugin folders, the compile cache). The composition
/// root (the CLI's entry point, a test) builds it once; nothing else in the engine reads the process
/// environment or the system clock, so <c>plan --as-of</c>, the daemon and the tests are deterministic.
/// </summary>
/// <param name="time">The clock.</param>
/// <param name="environment">Reads one of the operator's environment variables; null when unset.</param>
public sealed class HostContext(TimeProvider time, Func<string, string?> environment)
{
    /// <summary>The host of a workspace not made by the loader: asking it the time is a bug, and says so.</summary>
    internal static HostContext Unset { get; } = new(new NoClock(), _ => null);

    /// <summary>A host with the given clock and no environment variables at all.</summary>
    public static HostContext Isolated(TimeProvider time) => new(time, _ => null);

    /// <summary>The clock.</summary>
    public TimeProvider Time => time;

    /// <summary>The operator's value of <paramref name="name"/>; null when unset.</summary>
    public string? Variable(string name) => environment(name);

    /// <summary>The entries of a variable that holds a list of paths (separated as PATH is).</summary>
    public IReadOnlyList<string> PathList(string name) =>
        (environment(name) ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>
    /// How many findings a plan holds in memory; past it they are spilled, rendered, to unlinked files in
    /// <see cref="SpillFolder"/> (docs/performance.md).
    /// </summary>
    public int FindingsInMemory { get; init; } = Planning.FindingSpool.HostLimit;

    /// <summary>Where a large plan spills its findings: the system's temporary folder (<c>TMPDIR</c>) unless set.</summary>
    public string SpillFolder { get; init; } = Path.GetTempPath();

    /// <summary>The same environment with another clock.</summary>
    public HostContext WithTime(TimeProvider other) => new(other, environment) { FindingsInMemory = FindingsInMemory, SpillFolder = SpillFolder };

    private sealed class NoClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => throw new InvalidOperationException("This workspace was not loaded with a host (WorkspaceLoader.Load): it has no clock.");
    }
}
