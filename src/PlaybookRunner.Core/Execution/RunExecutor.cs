using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PlaybookRunner.Core.Planning;
using Polly;
using Polly.Retry;

namespace PlaybookRunner.Core.Execution;

/// <summary>One action as <c>run</c> or <c>daemon</c> executed it.</summary>
public sealed record ExecutedAction(string IdempotencyKey, string Playbook, string Rule, string Key, string Type, bool Succeeded, bool Recovered, int Attempts, string Message)
{
    /// <summary>True when the runner lost its claim before executing, so the action was left to the runner that took it over.</summary>
    public bool Abandoned { get; init; }

    /// <summary>Set when it failed transiently within its retry horizon: it stays pending and is attempted again from then on.</summary>
    public DateTimeOffset? RetryAt { get; init; }

    /// <summary>When a transient failure that is still retried gives up and becomes a dead letter.</summary>
    public DateTimeOffset? GivesUpAt { get; init; }
}

/// <summary>
/// How transient failures are retried: <see cref="MaxAttempts"/> attempts with exponential backoff within one
/// execution; then, until <see cref="Horizon"/> has passed since the first failure, the action stays pending and is
/// attempted again in later rounds (by the next run or the daemon), after a wait that doubles up to 15 minutes.
/// </summary>
internal sealed record RetryPolicy(int MaxAttempts, TimeSpan Backoff, TimeSpan Horizon)
{
    private static readonly TimeSpan MinRound = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MaxRound = TimeSpan.FromMinutes(15);

    /// <summary>When to try again after a round that failed transiently, or null when the horizon has passed (a dead letter).</summary>
    public DateTimeOffset? NextRound(DateTimeOffset failingSince, DateTimeOffset now)
    {
        var end = failingSince + Horizon;
        if (now >= end)
        {
            return null;
        }

        var wait = TimeSpan.FromTicks(Math.Clamp((now - failingSince).Ticks * 2, MinRound.Ticks, MaxRound.Ticks));
        return now + wait < end ? now + wait : end;
    }
}

/// <summary>
/// Executes recorded actions under claims. For a plan: records each pending finding's firing and its
/// actions as pending in one transaction, then claims and executes each action (transient failures
/// retried with exponential backoff and jitter, honouring Retry-After, then in later rounds until the retry
/// horizon) and records the outcome under the claim. Permanent failures and failures past the horizon become
/// dead letters. Before every attempt the claim is renewed and the attempt recorded; a runner that lost its claim
/// (paused past its lease) stops without executing, and one whose store fails stops executing (<see cref="Failure"/>).
/// </summary>
internal sealed class RunExecutor(StateStore store, ActionExecutor executor, TimeProvider time, RetryPolicy retry, string owner, ILogger? logger = null, Func<string, int>? laneLimit = null) : IAsyncDisposable
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;
    private readonly Func<string, int> _laneLimit = laneLimit ?? (_ => 1);
    private readonly Lock _store = new();

    /// <summary>Told after an action is claimed and before its claim is checked and it is executed (<see cref="EngineOptions.Observer"/>).</summary>
    public IExecutionObserver? Observer { get; init; }

    /// <summary>Ends what the executor keeps open between actions (SMTP connections).</summary>
    public ValueTask DisposeAsync() => executor.DisposeAsync();

    /// <summary>Set when the store failed while executing: execution stopped there (PB5014 for a run).</summary>
    public StoreFailureException? Failure { get; private set; }

    public static string IdempotencyKey(string playbook, string rule, string key, int index, DateTimeOffset firedAt) =>
        $"{playbook}/{rule}/{key}/{index.ToString(CultureInfo.InvariantCulture)}/{firedAt.UtcDateTime.ToString(DateFormats.KeyInstant, CultureInfo.InvariantCulture)}";

    /// <summary>
    /// Claims and executes pending actions nobody holds (or whose lease ran out) until none is left or
    /// <paramref name="stopping"/> is signalled. With <paramref name="steal"/>, live claims are taken too
    /// (a single <c>run</c> on a SQLite store, finishing what a crashed run left).
    /// </summary>
    public async Task<IReadOnlyList<ExecutedAction>> RecoverAsync(bool steal, CancellationToken stopping, CancellationToken cancellationToken)
    {
        var done = new List<ExecutedAction>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            while (!stopping.IsCancellationRequested && OnStore(() => store.Claim(owner, steal: steal), "claiming a pending action") is { } claim)
            {
                if (!seen.Add(claim.IdempotencyKey))
                {
                    OnStore(() => store.Release(claim), "releasing a claim");
                    break;
                }

                try
                {
                    done.Add(await ExecuteClaimAsync(claim, recovered: true, stopping, cancellationToken));
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    // Stopped while waiting to retry: the claim was released and the action stays pending.
                    break;
                }
            }
        }
        catch (StoreFailureException ex)
        {
            Failure = ex;
        }

        return done;
    }

    /// <summary>Records every pending finding's firing and actions; returns the idempotency keys recorded, in order, with their lanes.</summary>
    public IReadOnlyList<(string Key, string Lane)> Record(Plan plan) => Record(store, time, plan);

    /// <summary>Records every pending finding's firing and actions in <paramref name="store"/>; needs no executor (the daemon's scheduler records, its worker executes).</summary>
    public static IReadOnlyList<(string Key, string Lane)> Record(StateStore store, TimeProvider time, Plan plan)
    {
        var keys = new List<(string Key, string Lane)>();
        var firings = new List<Firing>();
        foreach (var finding in plan.Findings.Where(f => f.IsPending))
        {
            var actions = finding.Actions.Select((a, i) =>
            {
                var payload = ToPayload(a, finding, finding.BaseDirectory);
                return (
                    IdempotencyKey: IdempotencyKey(finding.Playbook, finding.Rule, finding.Key, i, plan.AsOf),
                    Index: i,
                    a.Type,
                    Lane: Lane(payload),
                    Payload: payload.ToJson());
            }).ToList();
            firings.Add(new Firing(finding.Playbook, finding.Rule, finding.Key, plan.AsOf, actions));
            keys.AddRange(actions.Select(a => (a.IdempotencyKey, a.Lane)));
        }

        store.RecordFirings(firings, time.GetUtcNow());
        return keys;
    }

    /// <summary>
    /// The lane an action is delivered in, whose concurrency the daemon bounds: its SMTP channel, its webhook channel
    /// (or the host of its url), <c>file</c>, or a plugin's type. One hung receiver holds up only its own lane.
    /// </summary>
    public static string Lane(ActionPayload payload) => Model.ActionKind.Of(payload.Type).Lane(payload.Fields);

    /// <summary>
    /// How many actions of one lane run side by side: <c>concurrency</c> of its channel, else <c>execution:
    /// channel_concurrency</c> (default 4); the file lane one at a time, so that lines keep their order.
    /// </summary>
    public static int LaneLimit(Model.WorkspaceDefinition workspace, string lane)
    {
        if (Model.ActionKind.Of(lane).OneAtATime)
        {
            return 1;
        }

        var channel = lane.IndexOf(':', StringComparison.Ordinal) is var colon and > 0 ? lane[(colon + 1)..] : lane;
        return workspace.Channels.TryGetValue(channel, out var definition) && definition.Settings.TryGetValue("concurrency", out var text)
            && int.TryParse(text, System.Globalization.NumberStyles.None, CultureInfo.InvariantCulture, out var own) && own > 0
            ? own
            : workspace.ExecutionOptions.ChannelConcurrency;
    }

    /// <summary>
    /// Claims and executes the named actions, side by side across lanes and at most <paramref name="laneLimit"/> at a time
    /// in each, in order within a lane; one another runner holds or finished is skipped. The results are in the order
    /// of <paramref name="keys"/>. A store failure stops new claims; the actions in flight finish (<see cref="Failure"/>).
    /// </summary>
    public async Task<IReadOnlyList<ExecutedAction>> ExecuteAsync(IReadOnlyList<(string Key, string Lane)> keys, Func<string, int> laneLimit, CancellationToken cancellationToken)
    {
        var queues = keys.Select((k, i) => (k.Key, k.Lane, Index: i)).GroupBy(k => k.Lane, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => new Queue<(string Key, string Lane, int Index)>(g), StringComparer.Ordinal);
        var busy = queues.Keys.ToDictionary(l => l, _ => 0, StringComparer.Ordinal);
        var running = new Dictionary<Task<ExecutedAction?>, (string Lane, int Index)>();
        var done = new List<(int Index, ExecutedAction Action)>();
        var claiming = true;
        while (true)
        {
            foreach (var (lane, queue) in queues)
            {
                while (claiming && queue.Count > 0 && busy[lane] < Math.Max(1, laneLimit(lane)))
                {
                    var (key, _, index) = queue.Dequeue();
                    busy[lane]++;
                    running[Task.Run(async () => OnStore(() => store.Claim(owner, key), "claiming an action") is { } claim
                        ? await ExecuteClaimAsync(claim, recovered: false, CancellationToken.None, cancellationToken)
                        : null, CancellationToken.None)] = (lane, index);
                }
            }

            if (running.Count == 0)
            {
                break;
            }

            var finished = await Task.WhenAny(running.Keys);
            var (doneLane, doneIndex) = running[finished];
            running.Remove(finished);
            busy[doneLane]--;
            try
            {
                if (await finished is { } action)
                {
                    done.Add((doneIndex, action));
                }
            }
            catch (StoreFailureException ex)
            {
                Failure ??= ex;
                claiming = false;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Aborted: the action stays pending (its claim released); the others in flight finish or abort too.
                claiming = false;
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        return [.. done.OrderBy(d => d.Index).Select(d => d.Action)];
    }

    /// <summary>Records and executes a plan's pending findings; nothing is executed when recording fails (<see cref="Failure"/>).</summary>
    public async Task<IReadOnlyList<ExecutedAction>> ExecuteAsync(Plan plan, CancellationToken cancellationToken)
    {
        IReadOnlyList<(string Key, string Lane)> keys;
        try
        {
            keys = OnStore(() => Record(plan), "recording the firings before executing them");
        }
        catch (StoreFailureException ex)
        {
            Failure = ex;
            return [];
        }

        return await ExecuteAsync(keys, _laneLimit, cancellationToken);
    }

    /// <summary>One store operation, serialised (the daemon executes lanes side by side on one connection); a store error becomes <see cref="StoreFailureException"/>.</summary>
    private T OnStore<T>(Func<T> operation, string doing)
    {
        lock (_store)
        {
            return StoreErrors.Guard(store, operation, doing);
        }
    }

    private void OnStore(Action operation, string doing)
    {
        lock (_store)
        {
            StoreErrors.Guard(store, operation, doing);
        }
    }

    private static ActionPayload ToPayload(PlannedAction action, PlannedFinding finding, string baseDirectory)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        var html = false;
        foreach (var field in action.Fields)
        {
            if (field.Children is { } children)
            {
                foreach (var child in children.Where(c => c.Text is not null))
                {
                    headers[child.Name] = child.Text!;
                }
            }
            else if (field.Flag is { } flag)
            {
                html |= field.Name == "html" && flag;
            }
            else if (field.Text is not null)
            {
                fields[field.Name] = field.Text;
            }
        }

        return new ActionPayload(action.Type, Planner.SeverityName(finding.Severity), baseDirectory, fields, headers, html);
    }

    /// <summary>
    /// Executes one claimed action. <paramref name="stopping"/> cancels only the waits between retries
    /// (the claim is released and the action stays pending); <paramref name="cancellationToken"/> also
    /// cancels an attempt in flight. A store failure is thrown as <see cref="StoreFailureException"/> saying
    /// whether the action may have been delivered (then it stays pending and is sent again with the same key).
    /// </summary>
    public async Task<ExecutedAction> ExecuteClaimAsync(ActionRecord claim, bool recovered, CancellationToken stopping, CancellationToken cancellationToken)
    {
        Observer?.Claimed(claim.IdempotencyKey);
        var attempts = 0;
        var lost = false;
        var sent = false;
        var lastAttempt = 0;
        EndedAttempt? ended = null;
        DateTimeOffset? firstFailure = null;
        var builder = new ResiliencePipelineBuilder<AttemptOutcome> { TimeProvider = time };
        // max_attempts: 1 means no retry; Polly's retry wants at least one, so there is none then.
        var pipeline = retry.MaxAttempts <= 1 ? builder.Build() : builder
            .AddRetry(new RetryStrategyOptions<AttemptOutcome>
            {
                MaxRetryAttempts = retry.MaxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = retry.Backoff,
                MaxDelay = TimeSpan.FromSeconds(30),
                ShouldHandle = args => ValueTask.FromResult(!lost && args.Outcome.Result is { Succeeded: false, Transient: true }),
                DelayGenerator = args => ValueTask.FromResult(
                    args.Outcome.Result?.RetryAfter is { } after ? TimeSpan.FromSeconds(Math.Clamp(after.TotalSeconds, 0, 60)) : (TimeSpan?)null),
            })
            .Build();
        AttemptOutcome outcome;
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stopping, cancellationToken);
        try
        {
            outcome = await pipeline.ExecuteAsync(
                async _ =>
                {
                    // One transaction before the side effect: the lease renewed under the claim's token, this attempt's row.
                    // A store that cannot write it sends nothing. (A failed attempt before it was recorded at once, below.)
                    var started = OnStore(() => store.StartAttempt(claim, time.GetUtcNow()), $"recording an attempt at {claim.IdempotencyKey} (nothing was sent)");
                    if (started is not { } attempt)
                    {
                        lost = true;
                        return AttemptOutcome.Permanent("the claim was lost to another runner before this attempt; not executed");
                    }

                    attempts++;
                    sent = true;
                    var result = await executor.ExecuteAsync(claim, cancellationToken);
                    if (result is { Succeeded: false, Transient: true })
                    {
                        firstFailure ??= time.GetUtcNow();
                    }

                    if (result.Succeeded)
                    {
                        // Recorded with the action's outcome, in one transaction (the common case: one write fewer).
                        ended = new EndedAttempt(attempt, AttemptName(result), result.Message);
                    }
                    else
                    {
                        // A failure is recorded at once: a retry may wait (backoff, Retry-After), and a crash then must
                        // not leave the attempt looking as if it never ended.
                        try
                        {
                            OnStore(() => store.EndAttempt(claim.IdempotencyKey, attempt, AttemptName(result), result.Message), $"recording how attempt {attempt} at {claim.IdempotencyKey} ended (failed)");
                        }
                        catch (StoreFailureException ex)
                        {
                            throw new StoreFailureException(ex.Store, ex.Message, ex.InnerException) { Unrecorded = new UnrecordedOutcome(claim, attempt, result, attempts) };
                        }
                    }
                    lastAttempt = attempt;
                    return result;
                },
                either.Token);
        }
        catch (OperationCanceledException)
        {
            // Shutting down: the action stays pending and is retried with the same key by whoever claims it next.
            TryRelease(claim, ended);
            throw;
        }
        catch (StoreFailureException) when (!sent)
        {
            // Nothing was sent (the attempt could not be recorded first): give the claim back, so it is not held a lease long.
            TryRelease(claim);
            throw;
        }
        catch (StoreFailureException ex) when (sent)
        {
            throw new StoreFailureException(ex.Store, $"{ex.Message}; {claim.IdempotencyKey} may have been delivered: it stays pending and is sent again with the same idempotency key once the store works", ex.InnerException)
            {
                Unrecorded = ex.Unrecorded,
            };
        }

        if (lost)
        {
            _logger.LogWarning("Action {IdempotencyKey} was claimed by another runner while this one was paused; left to it (fencing token {Fence})", Diagnostics.SafeText.OneLine(claim.IdempotencyKey), claim.Fence);
            return new ExecutedAction(claim.IdempotencyKey, claim.Playbook, claim.Rule, claim.Key, claim.Type, false, recovered, attempts, outcome.Message) { Abandoned = true };
        }

        var now = time.GetUtcNow();
        var failingSince = claim.FailingSince ?? firstFailure ?? now;
        if (outcome is { Succeeded: false, Transient: true } && retry.NextRound(failingSince, now) is { } retryAt)
        {
            var waiting = Recording(claim, lastAttempt, outcome, attempts, () => store.RecordRetry(claim, failingSince, retryAt, outcome.Message, now, attempts, ended), $"recording a retry of {claim.IdempotencyKey}");
            if (!waiting)
            {
                _logger.LogWarning("Action {IdempotencyKey} failed after its claim passed to another runner; the other runner's record stands", Diagnostics.SafeText.OneLine(claim.IdempotencyKey));
            }

            return new ExecutedAction(claim.IdempotencyKey, claim.Playbook, claim.Rule, claim.Key, claim.Type, false, recovered, attempts, outcome.Message)
            {
                RetryAt = retryAt,
                GivesUpAt = failingSince + retry.Horizon,
            };
        }

        var state = outcome.Succeeded ? ActionState.Succeeded : ActionState.Dead;
        var message = outcome.Succeeded || !outcome.Transient ? outcome.Message
            : claim.FailingSince is { } since ? $"{outcome.Message} (gave up after retrying since {DateFormats.FormatInstant(since)})"
            : $"{outcome.Message} (gave up after {attempts} attempts)";
        if (!Recording(claim, lastAttempt, outcome with { Message = message }, attempts, () => store.RecordOutcome(claim, state, outcome.Succeeded ? null : message, now, attempts, ended),
            $"recording the outcome of {claim.IdempotencyKey} ({StateStore.StateName(state)})"))
        {
            _logger.LogWarning("Action {IdempotencyKey} ended ({Outcome}) after its claim passed to another runner; the other runner's record stands", Diagnostics.SafeText.OneLine(claim.IdempotencyKey), StateStore.StateName(state));
        }

        return new ExecutedAction(claim.IdempotencyKey, claim.Playbook, claim.Rule, claim.Key, claim.Type, outcome.Succeeded, recovered, attempts, message);
    }

    /// <summary>Records how an attempted action ended; a store failure carries the outcome so that the daemon can record it later.</summary>
    private bool Recording(ActionRecord claim, int attempt, AttemptOutcome outcome, int attempts, Func<bool> write, string doing)
    {
        try
        {
            return OnStore(write, doing);
        }
        catch (StoreFailureException ex)
        {
            throw new StoreFailureException(ex.Store, $"{ex.Message}; {claim.IdempotencyKey} may have been delivered: it stays pending and is sent again with the same idempotency key once the store works", ex.InnerException)
            {
                Unrecorded = new UnrecordedOutcome(claim, attempt, outcome, attempts),
            };
        }
    }

    private static string AttemptName(AttemptOutcome outcome) => outcome.Succeeded ? "succeeded" : outcome.Transient ? "transient" : "permanent";

    /// <summary>
    /// Records an outcome the store could not take when it happened (the daemon, once the store answers again), under
    /// the claim it ran under: a delivered action is not sent again. A transient failure just gives its claim up.
    /// </summary>
    public void RecordLate(UnrecordedOutcome late)
    {
        var (claim, attempt, outcome, attempts) = late;
        var now = time.GetUtcNow();
        if (attempt > 0)
        {
            OnStore(() => store.EndAttempt(claim.IdempotencyKey, attempt, AttemptName(outcome), outcome.Message), $"recording how attempt {attempt} at {claim.IdempotencyKey} ended");
        }

        var failingSince = claim.FailingSince ?? now;
        bool recorded;
        if (outcome is { Succeeded: false, Transient: true } && retry.NextRound(failingSince, now) is { } retryAt)
        {
            // Not delivered: it waits for its next round like any transient failure, its horizon counting from its first.
            recorded = OnStore(() => store.RecordRetry(claim, failingSince, retryAt, outcome.Message, now, attempts), $"recording a retry of {claim.IdempotencyKey}");
        }
        else
        {
            var state = outcome.Succeeded ? ActionState.Succeeded : ActionState.Dead;
            recorded = OnStore(() => store.RecordOutcome(claim, state, outcome.Succeeded ? null : outcome.Message, now, attempts), $"recording the outcome of {claim.IdempotencyKey}");
        }

        if (!recorded)
        {
            _logger.LogWarning("Action {IdempotencyKey}: its outcome could not be recorded late, because its claim passed to another runner while the store was unavailable (an outage longer than the lease); that runner may send it again with the same key", Diagnostics.SafeText.OneLine(claim.IdempotencyKey));
        }
    }

    /// <summary>Claims the oldest due action outside <paramref name="fullLanes"/> (the daemon's lanes at their concurrency); null when none.</summary>
    public ActionRecord? Claim(IReadOnlyCollection<string> fullLanes) => OnStore(() => store.Claim(owner, fullLanes: fullLanes), "claiming a pending action");

    /// <summary>Gives a claim up (recording how its last attempt ended, if that is not yet) if the store answers; otherwise its lease runs out on its own.</summary>
    public void TryRelease(ActionRecord claim, EndedAttempt? ended = null)
    {
        try
        {
            if (ended is { } end)
            {
                OnStore(() => store.EndAttempt(claim.IdempotencyKey, end.Attempt, end.Outcome, end.Message), "recording how an attempt ended");
            }

            OnStore(() => store.Release(claim), "releasing a claim");
        }
        catch (StoreFailureException)
        {
            // The lease runs out on its own.
        }
    }
}
