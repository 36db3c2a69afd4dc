using PlaybookRunner.Core;
using PlaybookRunner.Core.Model;
using Microsoft.Extensions.Logging;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Execution;
using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Hosting;

/// <summary>
/// The daemon and its state store: opened afresh for each unit of work, checked to be the same store it started with
/// (a store deleted, emptied or replaced stops execution: <see cref="StoreLost"/>), and survived when it is unreachable
/// (execution pauses, retried with backoff, reported on /healthz and /metrics, resumed without duplicates).
/// </summary>
internal sealed partial class Daemon
{
    /// <summary>What a store failure stopped: opening it, recording ticks, or executing actions.</summary>
    private enum StoreUse
    {
        Open,
        Ticks,
        Actions,
    }

    private static readonly TimeSpan MaxStoreBackoff = TimeSpan.FromSeconds(5);

    private readonly List<UnrecordedOutcome> _unrecorded = [];
    private readonly Lock _storeLock = new();
    private string? _storeIdentity;
    private bool _storeHadFirings;
    private readonly Dictionary<StoreUse, string> _storeFailing = [];
    private DateTimeOffset? _storeDownSince;
    private string? _storeError;
    private int _storeFailures;
    private bool _overBacklog;

    /// <summary>Why the store is no longer the one the daemon started with (deleted, emptied, replaced); null while it is.</summary>
    public string? StoreLost { get; private set; }

    /// <summary>True while the store cannot be reached, or refuses the writes ticks or actions need; execution is paused.</summary>
    public bool StoreDownNow
    {
        get
        {
            lock (_storeLock)
            {
                return _storeFailing.Count > 0;
            }
        }
    }

    /// <summary>Opens the store at start, creating it only with <see cref="DaemonOptions.CreateStore"/>; false (logged) when it cannot be.</summary>
    private bool OpenStoreAtStart()
    {
        var diagnostics = new DiagnosticBag();
        try
        {
            using var store = PlaybookEngine.OpenStore(_current!.Prepared.Workspace, write: true, _secrets, _time, diagnostics, create: Options.CreateStore);
            if (store is not null)
            {
                _storeIdentity = store.Identity();
                _storeHadFirings = store.HasFirings();
                return true;
            }
        }
        catch (Exception ex) when (StoreErrors.IsStoreError(ex))
        {
            diagnostics.Add(DiagnosticDescriptors.StateStore, SourceLocation.None, "state", _secrets.Scrub(ex.Message.TrimEnd('.')));
        }

        if (diagnostics.Items.Any(d => d.Id == DiagnosticDescriptors.StoreMissing.Id))
        {
            foreach (var diagnostic in diagnostics.Items)
            {
                _logger.LogCritical("{Diagnostic}", DiagnosticFormatter.FormatText(diagnostic, Directory.GetCurrentDirectory()));
            }

            return false;
        }

        // Unreachable at start (a database still starting): the daemon starts and waits for it, as for any outage.
        StoreDown(diagnostics.Items.FirstOrDefault()?.Message ?? "the state store cannot be opened", StoreUse.Open);
        return true;
    }

    /// <summary>
    /// Opens the store for one unit of work; null while it is unreachable or lost. Opened for writing, it must be the
    /// store the daemon started with (same identity, not emptied); otherwise execution stops for good (<see cref="StoreLost"/>).
    /// </summary>
    private StateStore? OpenStore(out DiagnosticBag diagnostics, bool write = true)
    {
        diagnostics = new DiagnosticBag();
        if (StoreLost is not null)
        {
            return null;
        }

        StateStore? store;
        try
        {
            store = PlaybookEngine.OpenStore(_current!.Prepared.Workspace, write, _secrets, _time, diagnostics, create: write && _storeIdentity is null && Options.CreateStore);
        }
        catch (Exception ex) when (StoreErrors.IsStoreError(ex))
        {
            StoreDown(ex);
            return null;
        }

        if (store is null)
        {
            if (diagnostics.Items.FirstOrDefault(d => d.Id == DiagnosticDescriptors.StoreMissing.Id) is { } missing)
            {
                Lose($"{missing.Message.Split(';')[0]}: it was deleted or emptied while the daemon ran");
            }
            else
            {
                StoreDown(string.Join("; ", diagnostics.Items.Select(d => d.Message)), StoreUse.Open);
            }

            return null;
        }

        if (!write)
        {
            return store;
        }

        try
        {
            var identity = store.Identity();
            var hasFirings = store.HasFirings();
            lock (_storeLock)
            {
                _storeIdentity ??= identity;
                if (identity != _storeIdentity)
                {
                    Lose($"the state store {store.Name} was replaced while the daemon ran (its identity is {identity ?? "none"}, it was {_storeIdentity})");
                }
                else if (_storeHadFirings && !hasFirings)
                {
                    Lose($"the state store {store.Name} was emptied while the daemon ran (it had firings, it has none)");
                }

                _storeHadFirings |= hasFirings;
            }
        }
        catch (Exception ex) when (StoreErrors.IsStoreError(ex))
        {
            store.Dispose();
            StoreDown(ex);
            return null;
        }

        if (StoreLost is not null)
        {
            store.Dispose();
            return null;
        }

        // Not "up" yet: a store that opens may still refuse writes (a corrupt table). A whole pass of work marks it up.
        return store;
    }

    /// <summary>Firings are in the store now (this daemon recorded or executed some): one with none later was emptied.</summary>
    private void NoteFirings()
    {
        lock (_storeLock)
        {
            _storeHadFirings = true;
        }
    }

    private void Lose(string reason)
    {
        lock (_storeLock)
        {
            if (StoreLost is not null)
            {
                return;
            }

            StoreLost = reason;
        }

        Metrics.StoreError();
        _logger.LogCritical("{Reason}. Execution stopped: nothing is evaluated, recorded or delivered, so customers are not contacted again as if for the first time. Restore the store (or, to start afresh on purpose, restart with --create-store)", reason);
    }

    /// <summary>Marks the store unreachable for opening: execution pauses; logged once per outage, counted every time.</summary>
    private void StoreDown(Exception ex) => StoreDown(ex.Message, StoreUse.Open);

    /// <param name="error">What failed.</param>
    /// <param name="use">What failed: opening it, recording ticks, or executing actions. Each is cleared only by a clean pass of
    /// the same kind (opening by either), so a store that refuses the writes of one (a corrupt table) stays reported.</param>
    private void StoreDown(string error, StoreUse use)
    {
        Metrics.StoreError();
        var scrubbed = SafeText.OneLine(_secrets.Scrub(error.TrimEnd('.')));
        bool first;
        lock (_storeLock)
        {
            first = _storeFailing.Count == 0;
            _storeFailing[use] = scrubbed;
            _storeDownSince ??= _time.GetUtcNow();
            _storeError = scrubbed;
            _storeFailures++;
        }

        if (first)
        {
            _logger.LogError("The state store is unavailable: {Error}. Execution is paused and the store tried again with backoff; nothing is lost", scrubbed);
        }
    }

    /// <summary>A pass of work of one kind (a tick, a round of claims) went through the store without a failure.</summary>
    private void StoreUp(StoreUse use)
    {
        DateTimeOffset? since;
        lock (_storeLock)
        {
            _storeFailing.Remove(use);
            _storeFailing.Remove(StoreUse.Open);
            if (_storeFailing.Count > 0 || _storeDownSince is null)
            {
                return;
            }

            since = _storeDownSince;
            _storeDownSince = null;
            _storeError = null;
            _storeFailures = 0;
        }

        _logger.LogInformation("The state store is reachable again after {Seconds:0.0} s; execution resumes", (_time.GetUtcNow() - since!.Value).TotalSeconds);
        _workAvailable.Release();
    }

    /// <summary>
    /// During a pass of claims: at most once a second, opens the store afresh to check it is still the one the daemon
    /// started with (a pass holds its connection, which a deleted file does not break). False when it is lost or unreachable.
    /// </summary>
    private bool StillTheStore(ref long verified)
    {
        if (StoreLost is not null)
        {
            return false;
        }

        if (_time.GetElapsedTime(verified) < TimeSpan.FromSeconds(1))
        {
            return true;
        }

        verified = _time.GetTimestamp();
        using var store = OpenStore(out _);
        return store is not null && StoreLost is null;
    }

    /// <summary>How long the worker waits before trying an unreachable store again (1 s doubling to 5 s: well inside a lease, so late outcomes are recorded before another daemon could take their actions over); null while it is reachable.</summary>
    private TimeSpan? StoreBackoff()
    {
        lock (_storeLock)
        {
            if (_storeFailing.Count == 0 && StoreLost is null)
            {
                return null;
            }

            return StoreLost is not null ? Poll : TimeSpan.FromSeconds(Math.Min(MaxStoreBackoff.TotalSeconds, Math.Pow(2, Math.Min(_storeFailures, 6) - 1)));
        }
    }

    /// <summary>True (logged once per episode) when the pending actions exceed <c>max_backlog</c>: no new tick is recorded until they drain.</summary>
    private bool OverBacklog(StateStore store, WorkspaceDefinition workspace)
    {
        var bound = workspace.ExecutionOptions.MaxBacklog;
        var (pending, _) = store.Backlog();
        var over = pending > bound;
        if (over && !_overBacklog)
        {
            _logger.LogWarning("Backpressure: {Pending} actions are pending, more than max_backlog {Bound}; no new tick is evaluated until the backlog drains", pending, bound);
        }
        else if (!over && _overBacklog)
        {
            _logger.LogInformation("The backlog drained ({Pending} pending actions); ticks are evaluated again", pending);
        }

        _overBacklog = over;
        return over;
    }

    /// <summary>Outcomes delivered while the store was down, recorded now under their claims (so nothing is sent twice); false when the store still fails.</summary>
    private bool RecordLateOutcomes(RunExecutor runner)
    {
        List<UnrecordedOutcome> late;
        lock (_unrecorded)
        {
            late = [.. _unrecorded];
        }

        foreach (var outcome in late)
        {
            try
            {
                runner.RecordLate(outcome);
            }
            catch (StoreFailureException ex)
            {
                StoreDown(ex);
                return false;
            }

            _logger.LogInformation("Action {IdempotencyKey} ({Type}) {Outcome} while the store was unavailable; recorded now", outcome.Claim.IdempotencyKey, outcome.Claim.Type, outcome.Outcome.Succeeded ? "was delivered" : "failed");
            lock (_unrecorded)
            {
                _unrecorded.Remove(outcome);
            }
        }

        return true;
    }

    /// <summary>The store's part of <see cref="Problems"/>.</summary>
    private List<string> StoreProblems(DateTimeOffset now)
    {
        var problems = new List<string>();
        lock (_storeLock)
        {
            if (StoreLost is { } lost)
            {
                problems.Add("state store lost: " + lost);
            }

            if (_storeDownSince is { } since && _storeFailing.Count > 0)
            {
                var what = _storeFailing.Keys.Any(k => k != StoreUse.Open)
                    ? $"fails what {string.Join(" and ", _storeFailing.Keys.Where(k => k != StoreUse.Open).Order().Select(k => k == StoreUse.Ticks ? "ticks" : "actions"))} need"
                    : "is unreachable";
                problems.Add($"the state store {what} since {DateFormats.FormatInstant(since)} ({(long)(now - since).TotalSeconds} s): {_storeError}");
            }

            if (_overBacklog)
            {
                problems.Add("the backlog of pending actions is over max_backlog; no new tick is evaluated until it drains");
            }
        }

        return problems;
    }

    /// <summary>The store's actions by state, or null when it cannot be read.</summary>
    public IReadOnlyDictionary<string, long>? StoreActions()
    {
        try
        {
            using var store = OpenStore(out _, write: false);
            return store?.CountByState();
        }
        catch (Exception ex) when (StoreErrors.IsStoreError(ex))
        {
            StoreDown(ex);
            return null;
        }
    }

    /// <summary>The backlog for /metrics: pending actions and the age of the oldest; null when the store cannot be read.</summary>
    public (long Pending, TimeSpan? OldestAge)? StoreBacklog(DateTimeOffset now)
    {
        try
        {
            using var store = OpenStore(out _, write: false);
            if (store is null)
            {
                return null;
            }

            var (pending, oldest) = store.Backlog();
            return (pending, oldest is { } at ? now - at : null);
        }
        catch (Exception ex) when (StoreErrors.IsStoreError(ex))
        {
            StoreDown(ex);
            return null;
        }
    }
}
