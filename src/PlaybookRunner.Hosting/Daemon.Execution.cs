using PlaybookRunner.Core;
using Microsoft.Extensions.Logging;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Execution;
using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Planning;
using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Hosting;

/// <summary>The action worker's part: claims executed side by side in lanes, one per channel, each at its concurrency.</summary>
internal sealed partial class Daemon
{
    /// <summary>At most this many due actions are listed at a time to be split into the lanes' next batches.</summary>
    private const int DueListed = 2048;

    /// <summary>
    /// Claims and executes pending actions until none is claimable; returns how many were executed. Each lane (channel)
    /// takes a batch of the oldest due actions at a time (<see cref="RunExecutor.BatchSize"/>): claimed and their attempts
    /// recorded in one transaction, sent at most <c>channel_concurrency</c> at a time (file actions one part at a time), their
    /// outcomes recorded a few at a time. Lanes run side by side and each takes its next batch as soon as its last one is done,
    /// so one hung receiver holds up only its own lane. When the store fails, claiming stops, the actions in flight finish, and
    /// the outcomes it could not record are recorded once it answers again.
    /// </summary>
    public async Task<int> ExecutePendingAsync(CancellationToken stopping, CancellationToken abort)
    {
        var version = _current!;
        using var store = OpenStore(out _);
        if (store is null)
        {
            return 0;
        }

        var workspace = version.Prepared.Workspace;
        using var http = new HttpClient(_handler, disposeHandler: false) { Timeout = workspace.ExecutionOptions.Timeout };
        await using var runner = PlaybookEngine.CreateRunner(version.Prepared, store, _secrets, http, _time, Owner, _logger, _engine.Options.Observer);
        if (!RecordLateOutcomes(runner))
        {
            return 0;
        }

        var running = new Dictionary<Task<IReadOnlyList<ExecutedAction>>, string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var executed = 0;
        var claiming = true;
        var healthy = true;
        var verified = _time.GetTimestamp();
        var verifying = new Lock();
        bool StillOurs()
        {
            lock (verifying)
            {
                return StillTheStore(ref verified);
            }
        }

        // Checked before each claim and each send, at most once a second: a store deleted or replaced mid-pass gets nothing more.
        runner.StoreCheck = StillOurs;
        runner.OutcomesPerSlot = 1;
        try
        {
            while (true)
            {
                if (claiming && !stopping.IsCancellationRequested)
                {
                    if (!StillOurs())
                    {
                        // Lost (or unreachable) since this pass opened it: no new claim; the batches in flight finish.
                        claiming = healthy = false;
                    }
                    else
                    {
                        try
                        {
                            StartBatches(runner, workspace, running, seen, stopping, abort);
                        }
                        catch (StoreFailureException ex)
                        {
                            StoreDown(ex.Message, StoreUse.Actions);
                            claiming = healthy = false;
                        }
                    }
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

                // Claim again when a lane's batch is done, or at the next poll (new work for an idle lane while another hangs).
                await Task.WhenAny([.. running.Keys, Task.Delay(Poll, _time, CancellationToken.None)]);
                foreach (var task in running.Keys.Where(t => t.IsCompleted).ToList())
                {
                    running.Remove(task);
                    if (task.IsCanceled || task.Exception?.InnerException is OperationCanceledException)
                    {
                        // Stopped while waiting to retry, or aborted in flight: what was not finished stays pending.
                        claiming = false;
                        continue;
                    }

                    if (task.Exception is { } error)
                    {
                        throw error.InnerException ?? error;
                    }

                    foreach (var action in task.Result)
                    {
                        Finished(action);
                        executed++;
                    }

                    claiming &= !stopping.IsCancellationRequested;
                }

                if (healthy && runner.Failure is { } failure)
                {
                    StoreDown(failure.Message, StoreUse.Actions);
                    claiming = healthy = false;
                }
            }
        }
        finally
        {
            if (runner.Unrecorded is { Count: > 0 } late)
            {
                lock (_unrecorded)
                {
                    _unrecorded.AddRange(late);
                }
            }
        }
    }

    /// <summary>
    /// Starts a batch in every lane that has due actions and none running, the oldest first: listed again after each round,
    /// without the lanes now busy, until no lane has more (so one lane's long queue does not keep the others waiting for a poll).
    /// </summary>
    private static void StartBatches(RunExecutor runner, WorkspaceDefinition workspace, Dictionary<Task<IReadOnlyList<ExecutedAction>>, string> running, HashSet<string> seen,
        CancellationToken stopping, CancellationToken abort)
    {
        while (true)
        {
            var started = false;
            var due = runner.Claimable([.. running.Values], DueListed);
            foreach (var lane in due.Where(k => !seen.Contains(k.Key)).GroupBy(k => k.Lane, StringComparer.Ordinal))
            {
                var limit = RunExecutor.LaneLimit(workspace, lane.Key);
                List<(string Key, string Lane)> batch = [.. lane.Take(RunExecutor.BatchSize(lane.Key, limit))];
                seen.UnionWith(batch.Select(b => b.Key));
                running[Task.Run(() => runner.ExecuteAsync(batch, _ => limit, abort, recovered: true, stopping: stopping), CancellationToken.None)] = lane.Key;
                started = true;
            }

            if (!started || due.Count < DueListed)
            {
                return;
            }
        }
    }

    /// <summary>Logs and counts one executed action.</summary>
    private void Finished(ExecutedAction action)
    {
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
    }
}
