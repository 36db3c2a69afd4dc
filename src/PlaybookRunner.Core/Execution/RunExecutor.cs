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
}

/// <summary>
/// Executes recorded actions under claims. For a plan: records each pending finding's firing and its
/// actions as pending in one transaction, then claims and executes each action (transient failures
/// retried with exponential backoff and jitter, honouring Retry-After) and records the outcome under the
/// claim. Permanent failures and exhausted retries become dead letters. Before every attempt the claim
/// is renewed; a runner that lost it (paused past its lease) stops without executing.
/// </summary>
internal sealed class RunExecutor(StateStore store, ActionExecutor executor, TimeProvider time, int maxAttempts, TimeSpan backoff, string owner, ILogger? logger = null)
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    /// <summary>Test hook: called after an action is claimed and before its claim is checked and it is executed.</summary>
    internal static Action<string>? BeforeExecute { get; set; }

    /// <summary>Test hook like <see cref="BeforeExecute"/>, seen only by the async flow that set it (tests run side by side in one process).</summary>
    internal static AsyncLocal<Action<string>?> BeforeExecuteInFlow { get; } = new();

    public static string IdempotencyKey(string playbook, string rule, string key, int index, DateTimeOffset firedAt) =>
        $"{playbook}/{rule}/{key}/{index.ToString(CultureInfo.InvariantCulture)}/{firedAt.UtcDateTime.ToString("yyyyMMdd'T'HHmmss.fff'Z'", CultureInfo.InvariantCulture)}";

    /// <summary>
    /// Claims and executes pending actions nobody holds (or whose lease ran out) until none is left or
    /// <paramref name="stopping"/> is signalled. With <paramref name="steal"/>, live claims are taken too
    /// (a single <c>run</c> on a SQLite store, finishing what a crashed run left).
    /// </summary>
    public async Task<IReadOnlyList<ExecutedAction>> RecoverAsync(bool steal, CancellationToken stopping, CancellationToken cancellationToken)
    {
        var done = new List<ExecutedAction>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (!stopping.IsCancellationRequested && store.Claim(owner, steal: steal) is { } claim)
        {
            if (!seen.Add(claim.IdempotencyKey))
            {
                store.Release(claim);
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

        return done;
    }

    /// <summary>Records every pending finding's firing and actions; returns the idempotency keys recorded, in order.</summary>
    public IReadOnlyList<string> Record(Plan plan) => Record(store, time, plan);

    /// <summary>Records every pending finding's firing and actions in <paramref name="store"/>; needs no executor (the daemon's scheduler records, its worker executes).</summary>
    public static IReadOnlyList<string> Record(StateStore store, TimeProvider time, Plan plan)
    {
        var keys = new List<string>();
        foreach (var finding in plan.Findings.Where(f => f.IsPending))
        {
            var actions = finding.Actions.Select((a, i) => (
                IdempotencyKey: IdempotencyKey(finding.Playbook, finding.Rule, finding.Key, i, plan.AsOf),
                Index: i,
                a.Type,
                Payload: ToPayload(a, finding, finding.BaseDirectory).ToJson())).ToList();
            store.RecordFiring(finding.Playbook, finding.Rule, finding.Key, plan.AsOf, actions, time.GetUtcNow());
            keys.AddRange(actions.Select(a => a.IdempotencyKey));
        }

        return keys;
    }

    /// <summary>Claims and executes the named actions; one another runner holds or finished is skipped.</summary>
    public async Task<IReadOnlyList<ExecutedAction>> ExecuteAsync(IReadOnlyList<string> keys, CancellationToken stopping, CancellationToken cancellationToken)
    {
        var done = new List<ExecutedAction>();
        foreach (var key in keys)
        {
            if (stopping.IsCancellationRequested)
            {
                break;
            }

            if (store.Claim(owner, key) is { } claim)
            {
                done.Add(await ExecuteClaimAsync(claim, recovered: false, CancellationToken.None, cancellationToken));
            }
        }

        return done;
    }

    /// <summary>Records and executes a plan's pending findings.</summary>
    public Task<IReadOnlyList<ExecutedAction>> ExecuteAsync(Plan plan, CancellationToken cancellationToken) =>
        ExecuteAsync(Record(plan), CancellationToken.None, cancellationToken);

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
    /// cancels an attempt in flight.
    /// </summary>
    private async Task<ExecutedAction> ExecuteClaimAsync(ActionRecord claim, bool recovered, CancellationToken stopping, CancellationToken cancellationToken)
    {
        (BeforeExecuteInFlow.Value ?? BeforeExecute)?.Invoke(claim.IdempotencyKey);
        var attempts = 0;
        var lost = false;
        var builder = new ResiliencePipelineBuilder<AttemptOutcome> { TimeProvider = time };
        // max_attempts: 1 means no retry; Polly's retry wants at least one, so there is none then.
        var pipeline = maxAttempts <= 1 ? builder.Build() : builder
            .AddRetry(new RetryStrategyOptions<AttemptOutcome>
            {
                MaxRetryAttempts = maxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = backoff,
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
                    if (!store.Renew(claim))
                    {
                        lost = true;
                        return AttemptOutcome.Permanent("the claim was lost to another runner before this attempt; not executed");
                    }

                    attempts++;
                    var result = await executor.ExecuteAsync(claim, cancellationToken);
                    store.RecordAttemptRow(claim.IdempotencyKey, time.GetUtcNow(), result.Succeeded ? "succeeded" : result.Transient ? "transient" : "permanent", result.Message);
                    return result;
                },
                either.Token);
        }
        catch (OperationCanceledException)
        {
            // Shutting down: the action stays pending and is retried with the same key by whoever claims it next.
            store.Release(claim);
            throw;
        }

        if (lost)
        {
            _logger.LogWarning("Action {IdempotencyKey} was claimed by another runner while this one was paused; left to it (fencing token {Fence})", Diagnostics.SafeText.OneLine(claim.IdempotencyKey), claim.Fence);
            return new ExecutedAction(claim.IdempotencyKey, claim.Playbook, claim.Rule, claim.Key, claim.Type, false, recovered, attempts, outcome.Message) { Abandoned = true };
        }

        var state = outcome.Succeeded ? ActionState.Succeeded : ActionState.Dead;
        var message = outcome.Succeeded || !outcome.Transient ? outcome.Message : $"{outcome.Message} (gave up after {attempts} attempts)";
        if (!store.RecordOutcome(claim, state, outcome.Succeeded ? null : message, time.GetUtcNow(), attempts))
        {
            _logger.LogWarning("Action {IdempotencyKey} ended ({Outcome}) after its claim passed to another runner; the other runner's record stands", Diagnostics.SafeText.OneLine(claim.IdempotencyKey), StateStore.StateName(state));
        }

        return new ExecutedAction(claim.IdempotencyKey, claim.Playbook, claim.Rule, claim.Key, claim.Type, outcome.Succeeded, recovered, attempts, message);
    }
}
