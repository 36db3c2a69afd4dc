using PlaybookRunner.Core;
using Microsoft.Extensions.Logging;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Execution;
using PlaybookRunner.Core.Planning;
using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Hosting;

/// <summary>The scheduler's part: due ticks (each claimed once across daemons, retried as its own occurrence), their evaluation in process or in a worker, lease renewal and stale-tick takeover.</summary>
internal sealed partial class Daemon
{
    /// <summary>Runs every schedule due at <paramref name="now"/> (the latest occurrence, once, however many passed).</summary>
    public async Task RunDueAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        foreach (var unit in _current!.Units)
        {
            if (!_nextDue.TryGetValue(unit.Identity, out var next))
            {
                next = _nextDue[unit.Identity] = unit.NextAfter(now);
            }

            if (next is not { } dueAt || dueAt > now)
            {
                continue;
            }

            // A tick that could not run (store unavailable, a run holding the store, backpressure) is tried again at the next
            // poll as the occurrence it was, unless a later occurrence has come since: never as of a made-up instant.
            var from = _waitingOccurrence.Remove(unit.Identity, out var waiting) ? waiting : dueAt;
            var latest = unit.LatestMissed(now, from - TimeSpan.FromTicks(1)) ?? from;
            var ran = await RunTickAsync(unit, latest, cancellationToken);
            if (!ran)
            {
                _waitingOccurrence[unit.Identity] = latest;
            }

            _nextDue[unit.Identity] = ran ? unit.NextAfter(now) : Min(unit.NextAfter(now), now + Poll);
        }
    }

    private static DateTimeOffset? Min(DateTimeOffset? a, DateTimeOffset b) => a is { } x && x < b ? x : b;

    /// <summary>Evaluates one tick if this daemon claims it, and records what fired; false when the store could not be opened.</summary>
    public async Task<bool> RunTickAsync(ScheduledUnit unit, DateTimeOffset dueAt, CancellationToken cancellationToken)
    {
        var version = _current!;
        using var store = OpenStore(out var diagnostics);
        if (store is null)
        {
            return false;
        }

        var started = _time.GetTimestamp();
        _busySince = _time.GetUtcNow();
        try
        {
            var ran = await EvaluateTickAsync(version, store, diagnostics, unit, dueAt, started, cancellationToken);
            StoreUp(StoreUse.Ticks);
            return ran;
        }
        catch (Exception ex) when (StoreErrors.IsStoreError(ex))
        {
            // Nothing is lost: what was recorded stays, the tick is not finished and runs again (as the same occurrence,
            // reclaimed by this daemon) once the store answers.
            StoreDown(ex.Message, StoreUse.Ticks);
            return false;
        }
        finally
        {
            _busySince = null;
        }
    }

    private async Task<bool> EvaluateTickAsync(DaemonVersion version, StateStore store, DiagnosticBag diagnostics, ScheduledUnit unit, DateTimeOffset dueAt, long started, CancellationToken cancellationToken)
    {
        if (RunInProgress(store, Owner))
        {
            _logger.LogInformation("Tick {Playbook} ({Schedule}) due {DueAt:o} waits: a playbook run is executing against the state store", unit.Playbook, unit.Schedule.Text, dueAt);
            return false;
        }

        if (OverBacklog(store, version.Prepared.Workspace))
        {
            // Backpressure: no new work is recorded while the backlog is over its bound; the tick runs once it drains.
            return false;
        }

        if (store.ClaimTick(unit.Playbook, unit.Schedule.Text, dueAt, Owner) is not { } fence)
        {
            Metrics.TickSkipped(unit.Playbook);
            _logger.LogDebug("Tick {Playbook} ({Schedule}) due {DueAt:o} is another daemon's", unit.Playbook, unit.Schedule.Text, dueAt);
            return true;
        }

        Plan? plan = null;
        var recorded = 0;
        using var renewing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var renewal = RenewTickAsync(version, unit, dueAt, fence, renewing.Token);
        try
        {
            plan = Options.Worker is { } worker
                ? await EvaluationWorker.EvaluateAsync(worker, version.Prepared.Workspace, unit.Scope, dueAt, _secrets, diagnostics, cancellationToken)
                : await Planner.PlanAsync(version.Prepared.Compiled!, dueAt, store, version.Prepared.Catalog, _secrets, diagnostics, cancellationToken, unit.Scope);
            if (plan is not null && BlastRadius.Check(plan, version.Prepared.Workspace, null, refuse: true) is { Count: > 0 } refusals)
            {
                // Blast-radius guard: nothing is recorded; the next tick evaluates again.
                diagnostics.AddRange(refusals);
            }
            else if (plan is not null)
            {
                recorded = RunExecutor.Record(store, _time, plan);
            }
        }
        catch (Exception ex) when (ex is not (OperationCanceledException or OutOfMemoryException) && !StoreErrors.IsStoreError(ex))
        {
            _logger.LogError("Evaluating {Playbook} ({Schedule}) due {DueAt:o} failed: {Error}", unit.Playbook, unit.Schedule.Text, dueAt, SafeText.OneLine(_secrets.Scrub(ex.Message)));
            diagnostics.Add(DiagnosticDescriptors.StateStore, SourceLocation.None, "tick", _secrets.Scrub(ex.Message.TrimEnd('.')));
        }
        finally
        {
            await renewing.CancelAsync();
            await renewal;
        }

        var duration = _time.GetElapsedTime(started);
        var now = _time.GetUtcNow();
        if (!store.FinishTick(unit.Playbook, unit.Schedule.Text, dueAt, fence, now))
        {
            _logger.LogWarning("Tick {Playbook} ({Schedule}) due {DueAt:o} passed to another daemon while it was evaluated", unit.Playbook, unit.Schedule.Text, dueAt);
        }

        var errors = diagnostics.Items.Count(d => d.IsError) + (plan?.Errors.Count ?? 0);
        var sourceErrors = diagnostics.Items.Count(d => d.IsError && d.Id.StartsWith("PB4", StringComparison.Ordinal)) + (plan is null ? 1 : 0);
        foreach (var diagnostic in diagnostics.Items.Where(d => d.IsError))
        {
            _logger.LogError("{Playbook}: {Diagnostic}", unit.Playbook, DiagnosticFormatter.FormatText(diagnostic, Directory.GetCurrentDirectory()));
        }

        foreach (var group in PlanErrorGroup.Of(plan?.Errors ?? []))
        {
            _logger.LogError("{Playbook}: {Error}", unit.Playbook, group.Format(Directory.GetCurrentDirectory()));
        }

        foreach (var error in plan?.Errors.Where(e => e.Problem is null) ?? [])
        {
            _logger.LogError("{Playbook}: {Id}: {Message}", error.Playbook, error.Id, error.Message);
        }

        // Counted as they stream by (a large plan's findings are in spill files, never all held), then the files are closed.
        var pending = 0;
        foreach (var finding in plan?.Findings ?? [])
        {
            if (finding.IsPending)
            {
                pending++;
                Metrics.Found(finding.Playbook, finding.Rule);
            }
        }

        plan?.ReleaseFindings();

        Metrics.Evaluated(unit.Playbook, duration, plan is not null && errors == 0, now);
        var result = plan is null ? TickResult.Failed : errors > 0 ? TickResult.Errors : TickResult.Ok;
        lock (_statusLock)
        {
            _lastTicks[unit.Identity] = new TickOutcome(dueAt, now, result, pending, recorded, errors, duration, sourceErrors);
        }

        _logger.LogInformation("Evaluated {Playbook} ({Schedule}) as of {DueAt:o}: {Findings} findings, {Recorded} actions recorded, {Errors} errors, {Milliseconds} ms",
            unit.Playbook, unit.Schedule.Text, dueAt, pending, recorded, errors, (long)duration.TotalMilliseconds);
        if (sourceErrors > 0)
        {
            Metrics.SourceError(unit.Playbook);
        }

        if (recorded > 0)
        {
            NoteFirings();
            _workAvailable.Release();
        }

        return true;
    }

    /// <summary>
    /// Renews the tick's lease (PostgreSQL) every third of it while the tick is evaluated, so that a tick
    /// longer than the lease is not taken over by another daemon; stops when the claim is lost (and says so).
    /// </summary>
    private async Task RenewTickAsync(DaemonVersion version, ScheduledUnit unit, DateTimeOffset dueAt, long fence, CancellationToken cancellationToken)
    {
        if (version.Prepared.Workspace.State.Kind != "postgres")
        {
            // The SQLite store serves one daemon: no one else could take the tick over.
            return;
        }

        var every = version.Prepared.Workspace.State.Lease / 3;
        try
        {
            while (true)
            {
                await Task.Delay(every, _time, cancellationToken);
                using var store = OpenStore(out _);
                if (store is not null && !store.RenewTick(unit.Playbook, unit.Schedule.Text, dueAt, fence))
                {
                    _logger.LogWarning("Tick {Playbook} ({Schedule}) due {DueAt:o} was taken over by another daemon while it was evaluated", unit.Playbook, unit.Schedule.Text, dueAt);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The evaluation ended.
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException)
        {
            // The store is unreachable: the lease runs out and another daemon may take the tick over, as before.
            _logger.LogWarning("Could not renew the lease of tick {Playbook} ({Schedule}) due {DueAt:o}: {Error}", unit.Playbook, unit.Schedule.Text, dueAt, SafeText.OneLine(_secrets.Scrub(ex.Message)));
        }
    }

    /// <summary>Takes over ticks another daemon claimed and did not finish within its lease.</summary>
    public async Task TakeOverStaleTicksAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<StaleTick> stale;
        try
        {
            using var store = OpenStore(out _);
            stale = store?.StaleTicks() ?? [];
        }
        catch (Exception ex) when (StoreErrors.IsStoreError(ex))
        {
            StoreDown(ex);
            return;
        }

        foreach (var tick in stale)
        {
            if (_current!.Units.FirstOrDefault(u => u.Identity == (tick.Playbook, tick.Schedule)) is { } unit)
            {
                _logger.LogWarning("Taking over tick {Playbook} ({Schedule}) due {DueAt:o}: its daemon's lease ran out", tick.Playbook, tick.Schedule, tick.DueAt);
                await RunTickAsync(unit, tick.DueAt, cancellationToken);
            }
        }
    }
}
