using System.Globalization;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Planning;
using Polly;
using Polly.Retry;

namespace PlaybookRunner.Core.Execution;

/// <summary>One action as <c>run</c> executed it.</summary>
public sealed record ExecutedAction(string IdempotencyKey, string Playbook, string Rule, string Key, string Type, bool Succeeded, bool Recovered, int Attempts, string Message);

/// <summary>
/// <c>run</c>: first finishes actions a crashed run left pending (same idempotency keys), then for each
/// pending finding records the firing and its actions as pending in one transaction, executes each
/// action (transient failures retried with exponential backoff and jitter, honouring Retry-After) and
/// records the outcome. Permanent failures and exhausted retries become dead letters.
/// </summary>
internal sealed class RunExecutor(StateStore store, ActionExecutor executor, TimeProvider time, int maxAttempts, TimeSpan backoff)
{
    /// <summary>Test hook: called after an action's intent is recorded and before it is executed.</summary>
    internal static Action<string>? BeforeExecute { get; set; }

    public static string IdempotencyKey(string playbook, string rule, string key, int index, DateTimeOffset firedAt) =>
        $"{playbook}/{rule}/{key}/{index.ToString(CultureInfo.InvariantCulture)}/{firedAt.UtcDateTime.ToString("yyyyMMdd'T'HHmmss.fff'Z'", CultureInfo.InvariantCulture)}";

    public async Task<IReadOnlyList<ExecutedAction>> RecoverAsync(CancellationToken cancellationToken)
    {
        var done = new List<ExecutedAction>();
        foreach (var pending in store.Pending())
        {
            done.Add(await ExecuteAsync(pending, recovered: true, cancellationToken));
        }

        return done;
    }

    public async Task<IReadOnlyList<ExecutedAction>> ExecuteAsync(Plan plan, CancellationToken cancellationToken)
    {
        var done = new List<ExecutedAction>();
        foreach (var finding in plan.Findings.Where(f => f.IsPending))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var playbookDirectory = finding.BaseDirectory;
            var actions = finding.Actions.Select((a, i) => (
                IdempotencyKey: IdempotencyKey(finding.Playbook, finding.Rule, finding.Key, i, plan.AsOf),
                Index: i,
                a.Type,
                Payload: ToPayload(a, finding, playbookDirectory).ToJson())).ToList();
            var now = time.GetUtcNow();
            store.RecordFiring(finding.Playbook, finding.Rule, finding.Key, plan.AsOf, actions, now);
            foreach (var action in actions)
            {
                var record = new ActionRecord(action.IdempotencyKey, finding.Playbook, finding.Rule, finding.Key, action.Index, plan.AsOf,
                    action.Type, action.Payload, ActionState.Pending, 0, null, now);
                done.Add(await ExecuteAsync(record, recovered: false, cancellationToken));
            }
        }

        return done;
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

    private async Task<ExecutedAction> ExecuteAsync(ActionRecord record, bool recovered, CancellationToken cancellationToken)
    {
        BeforeExecute?.Invoke(record.IdempotencyKey);
        var attempts = 0;
        var pipeline = new ResiliencePipelineBuilder<AttemptOutcome> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<AttemptOutcome>
            {
                MaxRetryAttempts = Math.Max(0, maxAttempts - 1),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = backoff,
                MaxDelay = TimeSpan.FromSeconds(30),
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result is { Succeeded: false, Transient: true }),
                DelayGenerator = args => ValueTask.FromResult(
                    args.Outcome.Result?.RetryAfter is { } after ? TimeSpan.FromSeconds(Math.Clamp(after.TotalSeconds, 0, 60)) : (TimeSpan?)null),
            })
            .Build();
        var outcome = await pipeline.ExecuteAsync(
            async ct =>
            {
                attempts++;
                var result = await executor.ExecuteAsync(record, ct);
                store.RecordAttemptRow(record.IdempotencyKey, time.GetUtcNow(), result.Succeeded ? "succeeded" : result.Transient ? "transient" : "permanent", result.Message);
                return result;
            },
            cancellationToken);
        var state = outcome.Succeeded ? ActionState.Succeeded : ActionState.Dead;
        var message = outcome.Succeeded || !outcome.Transient ? outcome.Message : $"{outcome.Message} (gave up after {attempts} attempts)";
        store.RecordAttempt(record.IdempotencyKey, state, outcome.Succeeded ? null : message, time.GetUtcNow(), attempts);
        return new ExecutedAction(record.IdempotencyKey, record.Playbook, record.Rule, record.Key, record.Type, outcome.Succeeded, recovered, attempts, message);
    }
}
