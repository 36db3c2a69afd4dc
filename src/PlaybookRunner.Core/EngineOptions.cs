using PlaybookRunner.Core.Execution;

namespace PlaybookRunner.Core;

/// <summary>
/// What a <see cref="PlaybookEngine"/> takes from the process it runs in. The composition root (the CLI's
/// entry point; a test) builds it once: the engine itself reads neither the system clock nor the process
/// environment, so an evaluation as of a given instant is deterministic and a test controls both.
/// </summary>
public sealed record EngineOptions
{
    /// <summary>The clock: "now" for runs, leases, retries, cooldowns and the suppressions' expiry.</summary>
    public required TimeProvider Time { get; init; }

    /// <summary>
    /// Reads one of the operator's environment variables (null when unset): the secrets a workspace may read
    /// (<c>PLAYBOOK_ALLOWED_ENV</c> and the variables it allows), <c>PLAYBOOK_ALLOWED_ROOTS</c>,
    /// <c>PLAYBOOK_PLUGIN_FOLDERS</c>, <c>PLAYBOOK_CACHE_DIR</c> and <c>XDG_CACHE_HOME</c> (the compile cache).
    /// </summary>
    public required Func<string, string?> Environment { get; init; }

    /// <summary>
    /// Makes the HTTP handler that webhook actions are sent through (one per run or daemon). The default
    /// follows no redirect: a redirect would carry a channel's headers, and its secrets, to another host.
    /// </summary>
    public Func<HttpMessageHandler> HttpHandler { get; init; } = () => new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) };

    /// <summary>How many findings a plan holds in memory before spilling them, rendered, to unlinked temporary files.</summary>
    public int FindingsInMemory { get; init; } = Planning.FindingSpool.HostLimit;

    /// <summary>Where a large plan spills its findings; null for the system's temporary folder (<c>TMPDIR</c>).</summary>
    public string? SpillFolder { get; init; }

    /// <summary>The host context the engine's workspaces are loaded with.</summary>
    internal Model.HostContext Host() => new(Time, Environment) { FindingsInMemory = FindingsInMemory, SpillFolder = SpillFolder ?? Path.GetTempPath() };

    /// <summary>Told about each action's execution as it happens (a test host's hook; none by default).</summary>
    public IExecutionObserver? Observer { get; init; }
}
