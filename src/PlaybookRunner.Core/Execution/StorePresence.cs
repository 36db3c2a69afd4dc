using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Core.Execution;

/// <summary>
/// One <c>run</c> at a time per store, and none beside a working daemon (docs/reliability.md, "One runner per
/// store"): a run registers in the store's <c>executors</c> table and refuses (PB5012, exit 3) when another runner
/// is live there, so two runs, or a run and a daemon, never fire the same rule for the same customer twice. While
/// it executes it renews its lease on a connection of its own; on dispose it leaves.
/// </summary>
internal sealed class StorePresence : IDisposable
{
    private readonly StateStore _store;
    private readonly string _owner;
    private readonly ITimer _beat;

    private StorePresence(StateStore store, string owner, Func<StateStore?> open, TimeProvider time)
    {
        _store = store;
        _owner = owner;
        var every = store.Lease > TimeSpan.Zero ? store.Lease / 3 : TimeSpan.FromSeconds(10);
        _beat = time.CreateTimer(_ => Beat(open, owner), null, every, every);
    }

    /// <summary>
    /// Registers <paramref name="owner"/>; null with PB5012 when another runner is executing against the store. With
    /// <paramref name="besideDaemons"/> (a plan applied by a reviewed-only daemon) daemons are not in the way: they share
    /// the store through claims; another run is.
    /// </summary>
    public static StorePresence? Enter(StateStore store, string owner, Func<StateStore?> open, TimeProvider time, DiagnosticBag diagnostics, bool besideDaemons = false)
    {
        store.Heartbeat(owner, "run");
        var others = Live(store, owner).Where(o => !besideDaemons || o.Kind != "daemon").ToList();
        if (others.Count == 0)
        {
            return new StorePresence(store, owner, open, time);
        }

        store.Leave(owner);
        diagnostics.Add(DiagnosticDescriptors.StoreBusy, SourceLocation.None,
            string.Join(", ", others.Select(o => $"a {o.Kind} ({SafeText.OneLine(o.Owner)}, since {DateFormats.FormatInstant(o.Since)})")));
        return null;
    }

    /// <summary>
    /// The other runners executing against the store. One on this machine whose process is gone (a run killed
    /// with SIGKILL) is removed at once rather than left to block until its lease runs out.
    /// </summary>
    public static IReadOnlyList<(string Owner, string Kind, DateTimeOffset Since)> Live(StateStore store, string owner)
    {
        var live = new List<(string Owner, string Kind, DateTimeOffset Since)>();
        foreach (var other in store.OtherExecutors(owner))
        {
            if (other.Owner.Split(':') is [_, var machine, var pid, _] && machine == Environment.MachineName
                && int.TryParse(pid, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) && !Alive(id))
            {
                store.Leave(other.Owner);
                continue;
            }

            live.Add(other);
        }

        return live;
    }

    private static bool Alive(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    private static void Beat(Func<StateStore?> open, string owner)
    {
        try
        {
            using var store = open();
            store?.Heartbeat(owner, "run");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A missed beat shortens nothing but the lease; the next one renews it.
        }
    }

    public void Dispose()
    {
        // A beat in progress finishes first, so it cannot write the row back after Leave.
        _beat.DisposeAsync().AsTask().GetAwaiter().GetResult();
        try
        {
            _store.Leave(_owner);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The lease runs out on its own.
        }
    }
}
