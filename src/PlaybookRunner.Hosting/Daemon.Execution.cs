using PlaybookRunner.Core;
using Microsoft.Extensions.Logging;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Execution;
using PlaybookRunner.Core.Planning;
using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Hosting;

/// <summary>The action worker's part: claims executed side by side in lanes, one per channel, each at its concurrency.</summary>
internal sealed partial class Daemon
{
    /// <summary>
    /// Claims and executes pending actions until none is claimable; returns how many were executed. Actions run side by
    /// side across lanes (channels), at most <c>channel_concurrency</c> at a time in each (one in the file lane), so one
    /// hung receiver holds up only its own lane. When the store fails, claiming stops and the actions in flight finish.
    /// </summary>
    public async Task<int> ExecutePendingAsync(CancellationToken stopping, CancellationToken abort)
    {
        var version = _current!;
        using var store = OpenStore(out _);
        if (store is null)
        {
            return 0;
        }

        using var http = new HttpClient(_handler, disposeHandler: false) { Timeout = version.Prepared.Workspace.ExecutionOptions.Timeout };
        await using var runner = PlaybookEngine.CreateRunner(version.Prepared, store, _secrets, http, _time, Owner, _logger, _engine.Options.Observer);
        if (!RecordLateOutcomes(runner))
        {
            return 0;
        }

        var lanes = new Dictionary<string, int>(StringComparer.Ordinal);
        var running = new Dictionary<Task<ExecutedAction>, string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var executed = 0;
        var claiming = true;
        var healthy = true;
        var verified = _time.GetTimestamp();
        while (true)
        {
            while (claiming && !stopping.IsCancellationRequested)
            {
                if (!StillTheStore(ref verified))
                {
                    // Lost (or unreachable) since this pass opened it: no new claim; the actions in flight finish.
                    claiming = healthy = false;
                    break;
                }

                var full = lanes.Where(l => l.Value >= RunExecutor.LaneLimit(version.Prepared.Workspace, l.Key)).Select(l => l.Key).ToList();
                ActionRecord? claim;
                try
                {
                    claim = runner.Claim(full);
                }
                catch (StoreFailureException ex)
                {
                    StoreDown(ex.Message, StoreUse.Actions);
                    claiming = healthy = false;
                    break;
                }

                if (claim is null || !seen.Add(claim.IdempotencyKey))
                {
                    if (claim is not null)
                    {
                        runner.TryRelease(claim);
                    }

                    break;
                }

                lanes[claim.Lane] = lanes.GetValueOrDefault(claim.Lane) + 1;
                running[Task.Run(() => runner.ExecuteClaimAsync(claim, recovered: true, stopping, abort), CancellationToken.None)] = claim.Lane;
            }

            if (running.Count == 0)
            {
                // Aborted (the shutdown timeout): the actions in flight stay pending; the caller logs it.
                abort.ThrowIfCancellationRequested();
                if (healthy)
                {
                    StoreUp(StoreUse.Actions);
                }

                return executed;
            }

            // Claim again when a lane frees up, or at the next poll (new work for an idle lane while another hangs).
            await Task.WhenAny([.. running.Keys, Task.Delay(Poll, _time, CancellationToken.None)]);
            foreach (var task in running.Keys.Where(t => t.IsCompleted).ToList())
            {
                lanes[running[task]]--;
                running.Remove(task);
                if (task.IsCanceled || task.Exception?.InnerException is OperationCanceledException)
                {
                    // Stopped while waiting to retry, or aborted in flight: its claim was released and it stays pending.
                    claiming = false;
                    continue;
                }

                if (Finished(task))
                {
                    executed++;
                }
                else
                {
                    claiming = healthy = false;
                }

                claiming &= !stopping.IsCancellationRequested;
            }
        }
    }

    /// <summary>Logs and counts one executed action; false when its lane task failed with the store (claiming stops).</summary>
    private bool Finished(Task<ExecutedAction> task)
    {
        if (task.Exception?.InnerException is StoreFailureException failure)
        {
            StoreDown(failure.Message, StoreUse.Actions);
            if (failure.Unrecorded is { } late)
            {
                lock (_unrecorded)
                {
                    _unrecorded.Add(late);
                }
            }

            return false;
        }

        if (task.Exception is { } error)
        {
            throw error.InnerException ?? error;
        }

        var action = task.Result;
        var outcome = action.Abandoned ? "abandoned" : action.Succeeded ? "succeeded" : action.RetryAt is not null ? "retrying" : "dead";
        Metrics.Action(action.Type, outcome);
        if (action.Succeeded || action.Abandoned)
        {
            _logger.LogInformation("Action {IdempotencyKey} ({Type}) {Outcome} after {Attempts} attempts: {Message}", action.IdempotencyKey, action.Type, outcome, action.Attempts, action.Message);
        }
        else if (action.RetryAt is { } retryAt)
        {
            _logger.LogWarning("Action {IdempotencyKey} ({Type}) failed transiently after {Attempts} attempts: {Message}; retried from {RetryAt:o} until {GivesUpAt:o}", action.IdempotencyKey, action.Type, action.Attempts, action.Message, retryAt, action.GivesUpAt);
        }
        else
        {
            _logger.LogError("Action {IdempotencyKey} ({Type}) failed after {Attempts} attempts and is a dead letter: {Message}", action.IdempotencyKey, action.Type, action.Attempts, action.Message);
        }

        return true;
    }
}
