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
    /// Claims and executes the pending actions that are due and that nobody holds (or whose lease ran out), oldest first,
    /// a batch per lane at a time as <see cref="ExecuteAsync(IReadOnlyList{ValueTuple{string, string}}, Func{string, int}, CancellationToken, bool, bool, CancellationToken)"/>
    /// does, until none is left or <paramref name="stopping"/> is signalled (no new batch, no wait for a retry). With
    /// <paramref name="steal"/>, live claims are taken too (a single <c>run</c> on a SQLite store, finishing what a crashed run left).
    /// </summary>
    public async Task<IReadOnlyList<ExecutedAction>> RecoverAsync(bool steal, CancellationToken stopping, CancellationToken cancellationToken)
    {
        IReadOnlyList<(string Key, string Lane)> keys;
        try
        {
            keys = OnStore(() => store.DueKeys(), "listing the pending actions");
        }
        catch (StoreFailureException ex)
        {
            Failure = ex;
            return [];
        }

        return await ExecuteAsync(keys, _laneLimit, cancellationToken, recovered: true, steal: steal, stopping: stopping);
    }

    /// <summary>Records every pending finding's firing and actions; returns the idempotency keys recorded, in order, with their lanes.</summary>
    public IReadOnlyList<(string Key, string Lane)> Record(Plan plan)
    {
        var keys = new List<(string Key, string Lane)>();
        Record(store, time, plan, keys);
        return keys;
    }

    /// <summary>
    /// Records every pending finding's firing and actions in <paramref name="store"/>, and every resolution's; then the
    /// holds of the rules the store follows (<c>for:</c>, <c>on_resolve:</c>). Needs no executor (the daemon's scheduler
    /// records, its worker executes). Returns the number of actions recorded; their idempotency keys and lanes are added
    /// to <paramref name="keys"/> when given (the daemon's tick gives none: its plan may have millions of actions, and it
    /// executes them from the store, not from a list).
    /// </summary>
    public static int Record(StateStore store, TimeProvider time, Plan plan, List<(string Key, string Lane)>? keys = null)
    {
        var recorded = 0;
        // Recorded a store batch at a time as the findings stream by, so a large plan's payloads are never all held.
        var now = time.GetUtcNow();
        var firings = new List<Firing>(StateStore.FiringsPerTransaction);
        void Add(Firing firing)
        {
            firings.Add(firing);
            if (firings.Count == StateStore.FiringsPerTransaction)
            {
                store.RecordFirings(firings, now);
                firings.Clear();
            }
        }

        var held = new List<HeldCondition>();
        foreach (var finding in plan.Findings)
        {
            if (!finding.IsResolution && finding.PendingSince is { } since)
            {
                held.Add(new HeldCondition(finding.Playbook, finding.Rule, finding.Key, since, finding.IsPending));
            }

            if (!finding.IsPending)
            {
                continue;
            }

            var actions = finding.Actions.Select((a, i) =>
            {
                var payload = ToPayload(a, finding, finding.BaseDirectory);
                return (
                    IdempotencyKey: finding.IsResolution ? ResolutionKey(finding.Playbook, finding.Rule, finding.Key, i, plan.AsOf) : IdempotencyKey(finding.Playbook, finding.Rule, finding.Key, i, plan.AsOf),
                    Index: i,
                    a.Type,
                    Lane: Lane(payload),
                    Payload: payload.ToJson());
            }).ToList();
            Add(new Firing(finding.Playbook, finding.Rule, finding.Key, plan.AsOf, actions) { Kind = finding.IsResolution ? "resolved" : "fired" });
            recorded += actions.Count;
            keys?.AddRange(actions.Select(a => (a.IdempotencyKey, a.Lane)));
        }

        foreach (var digest in plan.Digests)
        {
            // One action per digest and group, recorded with the findings it lists (their firings count for their cooldowns).
            var payload = ToPayload(digest.Action, Planner.SeverityName(digest.Severity), DigestDirectory(plan, digest));
            var action = (IdempotencyKey: IdempotencyKey("digest", digest.Name, digest.Group, 0, plan.AsOf), Index: 0, digest.Action.Type, Lane: Lane(payload), Payload: payload.ToJson());
            Add(new Firing("digest", digest.Name, digest.Group, plan.AsOf, [action]) { Kind = "digest" });
            recorded++;
            keys?.Add((action.IdempotencyKey, action.Lane));
        }

        store.RecordFirings(firings, now);
        if (held.Count > 0 || plan.Tracked.Count > 0)
        {
            // After the firings: a crash between the two loses a hold (the rule waits again), never sends twice.
            store.RecordHolds(plan.AsOf, held, [.. plan.Tracked.Select(t => (t[..t.IndexOf('/', StringComparison.Ordinal)], t[(t.IndexOf('/', StringComparison.Ordinal) + 1)..]))]);
        }

        return recorded;
    }

    /// <summary>The idempotency key of a resolution's action: its own, never one of a firing's.</summary>
    public static string ResolutionKey(string playbook, string rule, string key, int index, DateTimeOffset at) =>
        $"{playbook}/{rule}/{key}/resolve-{index.ToString(CultureInfo.InvariantCulture)}/{at.UtcDateTime.ToString(DateFormats.KeyInstant, CultureInfo.InvariantCulture)}";

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

    /// <summary>At most this many actions of the file lane are claimed and started in one transaction.</summary>
    internal const int FileBatch = 512;

    /// <summary>
    /// File actions of a batch are written and their outcomes recorded in parts of at most this many payload bytes: the
    /// lines a crash can leave unrecorded then stay well inside the tail a retried line is looked for in.
    /// </summary>
    private const int FilePartBytes = 64 * 1024;

    private volatile bool _stopped;

    /// <summary>
    /// How many outcomes per concurrent slot are recorded in one transaction (4 for <c>run</c>). The daemon records one per
    /// slot: a daemon paused or killed mid-batch then leaves about as many actions sent but unrecorded (to be sent again with
    /// their keys) as its lane's concurrency, as when it executed one action at a time.
    /// </summary>
    public int OutcomesPerSlot { get; set; } = 4;

    /// <summary>
    /// Asked before each action of a batch is sent (the daemon: is the store still the one it opened?); false stops every
    /// lane as a store failure does: nothing more is sent, and the claims not sent are given back.
    /// </summary>
    public Func<bool>? StoreCheck { get; set; }

    /// <summary>False once stopped, or when <see cref="StoreCheck"/> says the store is no longer the one claimed in (which stops).</summary>
    private bool Proceed()
    {
        if (!_stopped && StoreCheck is { } check && !check())
        {
            _stopped = true;
        }

        return !_stopped;
    }

    /// <summary>
    /// How many actions of a lane are claimed and started in one transaction: <see cref="FileBatch"/> for the file lane,
    /// else 16 per concurrent slot (16 to 256). Their outcomes are recorded 4 per slot at a time (a file batch's per part).
    /// </summary>
    internal static int BatchSize(string lane, int limit) => Model.ActionKind.Of(lane).OneAtATime ? FileBatch : Math.Clamp(limit * 16, 16, 256);

    /// <summary>
    /// Claims and executes the named actions, side by side across lanes and at most <paramref name="laneLimit"/> at a time
    /// in each, in order within a lane; one another runner holds or finished is skipped. A lane's actions are claimed and
    /// their attempts recorded a batch at a time (<see cref="BatchSize"/>), in one transaction before any of them is sent,
    /// and their outcomes are recorded a few at a time, in one transaction each; file actions are written a part at a
    /// time, one write and sync per file. A transient failure is recorded, then retried on its own. The results are in
    /// the order of <paramref name="keys"/>. A store failure stops new claims in every lane; the actions in flight finish
    /// (<see cref="Failure"/>).
    /// </summary>
    public async Task<IReadOnlyList<ExecutedAction>> ExecuteAsync(IReadOnlyList<(string Key, string Lane)> keys, Func<string, int> laneLimit, CancellationToken cancellationToken,
        bool recovered = false, bool steal = false, CancellationToken stopping = default)
    {
        var results = new ExecutedAction?[keys.Count];
        var lanes = keys.Select((k, i) => (k.Key, Index: i)).GroupBy(k => keys[k.Index].Lane, StringComparer.Ordinal).ToList();
        var batches = new Batches(recovered, steal, stopping);
        await Task.WhenAll(lanes.Select(lane => Task.Run(
            () => LaneAsync(lane.Key, [.. lane], Math.Max(1, laneLimit(lane.Key)), results, batches, cancellationToken), CancellationToken.None)));
        cancellationToken.ThrowIfCancellationRequested();
        return [.. results.OfType<ExecutedAction>()];
    }

    /// <summary>How a lane's batches are claimed: recovering earlier runs' actions (taking live claims with <c>Steal</c>), and what stops the waits between retries.</summary>
    private sealed record Batches(bool Recovered, bool Steal, CancellationToken Stopping);

    /// <summary>One lane's actions, a batch at a time.</summary>
    private async Task LaneAsync(string lane, IReadOnlyList<(string Key, int Index)> items, int limit, ExecutedAction?[] results, Batches how, CancellationToken cancellationToken)
    {
        var positions = items.ToDictionary(i => i.Key, i => i.Index, StringComparer.Ordinal);
        var size = BatchSize(lane, limit);
        for (var next = 0; next < items.Count && Proceed() && !cancellationToken.IsCancellationRequested && !how.Stopping.IsCancellationRequested; next += size)
        {
            var keys = items.Skip(next).Take(size).Select(i => i.Key).ToList();
            IReadOnlyList<(ActionRecord Claim, int Attempt)> batch;
            try
            {
                batch = OnStore(() => store.ClaimAndStart(owner, keys, time.GetUtcNow(), how.Steal), "claiming actions and recording their attempts (nothing was sent)");
            }
            catch (StoreFailureException ex)
            {
                Stop(ex);
                return;
            }

            var retries = await BatchAsync(lane, batch, limit, positions, results, how.Recovered, cancellationToken);
            if (retries.Count > 0)
            {
                await Parallel.ForEachAsync(retries, new ParallelOptions { MaxDegreeOfParallelism = limit }, async (retry, _) =>
                {
                    try
                    {
                        results[positions[retry.Claim.IdempotencyKey]] = await ExecuteClaimAsync(retry.Claim, how.Recovered, how.Stopping, cancellationToken, (retry.Attempt, retry.Outcome));
                    }
                    catch (StoreFailureException ex)
                    {
                        Stop(ex);
                    }
                    catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested || how.Stopping.IsCancellationRequested)
                    {
                        // Aborted, or stopped while waiting to retry: the action stays pending (its claim released).
                    }
                });
            }
        }
    }

    /// <summary>
    /// Sends a claimed batch and records its outcomes; returns the transient failures (recorded as such) to retry. Stopped
    /// (cancelled, or the store failed): what was not sent is given back, its attempt rows removed.
    /// </summary>
    private async Task<List<(ActionRecord Claim, int Attempt, AttemptOutcome Outcome)>> BatchAsync(
        string lane, IReadOnlyList<(ActionRecord Claim, int Attempt)> batch, int limit, Dictionary<string, int> positions, ExecutedAction?[] results, bool recovered, CancellationToken cancellationToken)
    {
        var retries = new List<(ActionRecord, int, AttemptOutcome)>();
        var sent = new bool[batch.Count];
        var done = new List<(int Index, AttemptOutcome? Outcome)>();
        var gate = new Lock();
        var held = time.GetTimestamp();
        var lost = new bool[batch.Count];
        try
        {
            if (Model.ActionKind.Of(lane).OneAtATime)
            {
                foreach (var part in Parts(batch))
                {
                    if (!Proceed())
                    {
                        break;
                    }

                    var chunk = part.Select(i => batch[i]).ToList();
                    var outcomes = await executor.WriteFilesAsync(chunk, n =>
                    {
                        Observer?.Claimed(chunk[n].Claim.IdempotencyKey);
                        sent[part[n]] = true;
                    }, cancellationToken);
                    Record(batch, [.. part.Select((i, n) => (i, (AttemptOutcome?)outcomes[n]))], positions, results, retries, recovered);
                }
            }
            else
            {
                await Parallel.ForEachAsync(Enumerable.Range(0, batch.Count), new ParallelOptions { MaxDegreeOfParallelism = limit, CancellationToken = cancellationToken }, async (i, _) =>
                {
                    if (!Proceed())
                    {
                        return;
                    }

                    // Before the claim is checked: a runner paused here (a stopped process, a long collection) finds the claims it
                    // held past their lease taken over when it goes on, and does not send them.
                    Observer?.Claimed(batch[i].Claim.IdempotencyKey);
                    List<(int, AttemptOutcome?)>? full = null;
                    lock (gate)
                    {
                        if (time.GetElapsedTime(held) > store.Lease / 3)
                        {
                            // A slow batch: its claims not sent yet are renewed together, so that none runs out before its turn.
                            var waiting = Enumerable.Range(0, batch.Count).Where(j => !sent[j] && !lost[j]).ToList();
                            var renewed = OnStore(() => store.RenewAll([.. waiting.Select(j => batch[j].Claim)]), "renewing the claims of a batch (nothing more was sent)");
                            foreach (var (j, ok) in waiting.Zip(renewed))
                            {
                                lost[j] = !ok;
                            }

                            held = time.GetTimestamp();
                        }

                        sent[i] = !lost[i];
                        if (lost[i])
                        {
                            done.Add((i, null));
                        }
                    }

                    if (!sent[i])
                    {
                        return;
                    }

                    var outcome = await executor.ExecuteAsync(batch[i].Claim, cancellationToken);
                    lock (gate)
                    {
                        done.Add((i, outcome));
                        if (done.Count >= limit * OutcomesPerSlot)
                        {
                            full = [.. done];
                            done.Clear();
                        }
                    }

                    if (full is not null)
                    {
                        try
                        {
                            Record(batch, full, positions, results, retries, recovered);
                        }
                        catch (StoreFailureException ex)
                        {
                            // The other sends in flight finish and try to record theirs; nothing new is sent.
                            Stop(ex);
                        }
                    }
                });

                List<(int, AttemptOutcome?)> rest;
                lock (gate)
                {
                    rest = [.. done];
                    done.Clear();
                }

                Record(batch, rest, positions, results, retries, recovered);
            }
        }
        catch (StoreFailureException ex)
        {
            // What finished sending but was not passed to the store yet is kept to be recorded later, like the failure's own.
            List<(int, AttemptOutcome?)> leftover;
            lock (gate)
            {
                leftover = [.. done];
                done.Clear();
            }

            Stop(ex, Attempted(batch, leftover));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Aborted: what finished is recorded; what is in flight and what was not sent stay pending, their claims released.
            _stopped = true;
            try
            {
                List<(int, AttemptOutcome?)> finished;
                lock (gate)
                {
                    finished = [.. done];
                    done.Clear();
                }

                Record(batch, finished, positions, results, retries, recovered);
                foreach (var i in Enumerable.Range(0, batch.Count).Where(i => sent[i] && results[positions[batch[i].Claim.IdempotencyKey]] is null))
                {
                    TryRelease(batch[i].Claim);
                }
            }
            catch (StoreFailureException ex)
            {
                // The leases run out on their own; what was sent is recorded once the store answers (the daemon).
                Stop(ex);
            }
        }

        var unsent = Enumerable.Range(0, batch.Count).Where(i => !sent[i] && !lost[i]).Select(i => batch[i]).ToList();
        if (unsent.Count > 0)
        {
            try
            {
                OnStore(() => store.ReleaseUnsent(unsent), "giving back claims that were not sent");
            }
            catch (StoreFailureException)
            {
                // The leases run out on their own; the attempt rows say started, and nothing was sent.
            }
        }

        return retries;
    }

    /// <summary>The file batch's parts: consecutive indexes holding at most <see cref="FilePartBytes"/> of payload (at least one each).</summary>
    private static List<List<int>> Parts(IReadOnlyList<(ActionRecord Claim, int Attempt)> batch)
    {
        var parts = new List<List<int>>();
        var bytes = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            if (parts.Count == 0 || (bytes + batch[i].Claim.Payload.Length > FilePartBytes && parts[^1].Count > 0))
            {
                parts.Add([]);
                bytes = 0;
            }

            parts[^1].Add(i);
            bytes += batch[i].Claim.Payload.Length;
        }

        return parts;
    }

    /// <summary>
    /// Records how the attempts of part of a batch ended, in one transaction: a success or a permanent failure finishes its
    /// action; a transient failure is kept for its retry; a lost claim (null outcome) ends its attempt unsent.
    /// </summary>
    private void Record(IReadOnlyList<(ActionRecord Claim, int Attempt)> batch, IReadOnlyList<(int Index, AttemptOutcome? Outcome)> outcomes, Dictionary<string, int> positions,
        ExecutedAction?[] results, List<(ActionRecord Claim, int Attempt, AttemptOutcome Outcome)> retries, bool recovered)
    {
        if (outcomes.Count == 0)
        {
            return;
        }

        var rows = outcomes.Select(o => (batch[o.Index].Claim,
            o.Outcome is { } outcome ? new EndedAttempt(batch[o.Index].Attempt, AttemptName(outcome), outcome.Message) : new EndedAttempt(batch[o.Index].Attempt, "abandoned", LostMessage),
            o.Outcome switch { { Succeeded: true } => ActionState.Succeeded, { Transient: false } => ActionState.Dead, _ => (ActionState?)null },
            o.Outcome is { Succeeded: false } failed ? failed.Message : null)).ToList();
        IReadOnlyList<bool> recorded;
        try
        {
            recorded = OnStore(() => store.RecordBatch(rows, time.GetUtcNow()), rows.Count == 1 ? $"recording the outcome of {rows[0].Claim.IdempotencyKey}" : $"recording the outcomes of {rows.Count} actions");
        }
        catch (StoreFailureException ex)
        {
            var attempted = Attempted(batch, outcomes);
            var keys = attempted.Select(a => a.Claim.IdempotencyKey).ToList();
            throw new StoreFailureException(ex.Store, keys.Count switch
            {
                0 => ex.Message,
                1 => $"{ex.Message}; {keys[0]} may have been delivered: it stays pending and is sent again with the same idempotency key once the store works",
                _ => $"{ex.Message}; {keys.Count} actions may have been delivered ({keys[0]} to {keys[^1]}): they stay pending and are sent again with the same idempotency keys once the store works",
            }, ex.InnerException) { Unrecorded = attempted };
        }

        foreach (var ((index, outcome), ok) in outcomes.Zip(recorded))
        {
            var (claim, attempt) = batch[index];
            var position = positions[claim.IdempotencyKey];
            if (outcome is null)
            {
                _logger.LogWarning("Action {IdempotencyKey} was claimed by another runner while this one was paused; left to it (fencing token {Fence})", Diagnostics.SafeText.OneLine(claim.IdempotencyKey), claim.Fence);
                results[position] = new ExecutedAction(claim.IdempotencyKey, claim.Playbook, claim.Rule, claim.Key, claim.Type, false, recovered, 0, LostMessage) { Abandoned = true };
            }
            else if (outcome is { Succeeded: false, Transient: true })
            {
                retries.Add((claim, attempt, outcome));
            }
            else
            {
                if (!ok)
                {
                    _logger.LogWarning("Action {IdempotencyKey} ended ({Outcome}) after its claim passed to another runner; the other runner's record stands", Diagnostics.SafeText.OneLine(claim.IdempotencyKey), AttemptName(outcome));
                }

                results[position] = new ExecutedAction(claim.IdempotencyKey, claim.Playbook, claim.Rule, claim.Key, claim.Type, outcome.Succeeded, recovered, 1, outcome.Message);
            }
        }
    }

    /// <summary>The batch's actions that were attempted (not lost) among <paramref name="outcomes"/>, as outcomes to record later.</summary>
    private static List<UnrecordedOutcome> Attempted(IReadOnlyList<(ActionRecord Claim, int Attempt)> batch, IEnumerable<(int Index, AttemptOutcome? Outcome)> outcomes) =>
        [.. outcomes.Where(o => o.Outcome is not null).Select(o => new UnrecordedOutcome(batch[o.Index].Claim, batch[o.Index].Attempt, o.Outcome!, 1))];

    private const string LostMessage = "the claim was lost to another runner before this attempt; not executed";

    private readonly List<UnrecordedOutcome> _unrecorded = [];

    /// <summary>
    /// The attempts whose outcomes the store could not record once it failed (their actions may have been delivered): the
    /// daemon records them when the store answers again, so they are not sent twice; a <c>run</c> leaves them pending.
    /// </summary>
    public IReadOnlyList<UnrecordedOutcome> Unrecorded
    {
        get
        {
            lock (_store)
            {
                return [.. _unrecorded];
            }
        }
    }

    /// <summary>Stops claiming in every lane after a store failure; the first failure is the one reported, and every failure's unrecorded outcomes are kept.</summary>
    private void Stop(StoreFailureException failure, IEnumerable<UnrecordedOutcome>? alsoUnrecorded = null)
    {
        lock (_store)
        {
            Failure ??= failure;
            _unrecorded.AddRange(failure.Unrecorded);
            _unrecorded.AddRange(alsoUnrecorded ?? []);
        }

        _stopped = true;
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

    /// <summary>The folder a digest's file action path is relative to: runner.yaml's, which the plan's findings share the root of.</summary>
    private static string DigestDirectory(Plan plan, PlannedDigest digest) => plan.DigestDirectory ?? "";

    private static ActionPayload ToPayload(PlannedAction action, PlannedFinding finding, string baseDirectory) =>
        ToPayload(action, Planner.SeverityName(finding.Severity), baseDirectory);

    private static ActionPayload ToPayload(PlannedAction action, string severity, string baseDirectory)
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

        return new ActionPayload(action.Type, severity, baseDirectory, fields, headers, html);
    }

    /// <summary>
    /// Executes one claimed action. <paramref name="stopping"/> cancels only the waits between retries
    /// (the claim is released and the action stays pending); <paramref name="cancellationToken"/> also
    /// cancels an attempt in flight. A store failure is thrown as <see cref="StoreFailureException"/> saying
    /// whether the action may have been delivered (then it stays pending and is sent again with the same key).
    /// <paramref name="first"/> is an attempt a batch made and recorded already (a transient failure): it counts as the
    /// first, and the retries follow it.
    /// </summary>
    public async Task<ExecutedAction> ExecuteClaimAsync(ActionRecord claim, bool recovered, CancellationToken stopping, CancellationToken cancellationToken, (int Attempt, AttemptOutcome Outcome)? first = null)
    {
        if (first is null)
        {
            Observer?.Claimed(claim.IdempotencyKey);
        }

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
                    if (first is { } made)
                    {
                        // The batch's attempt, made and recorded already: its outcome decides whether to retry.
                        first = null;
                        attempts++;
                        sent = true;
                        firstFailure ??= time.GetUtcNow();
                        lastAttempt = made.Attempt;
                        return made.Outcome;
                    }

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
                            throw new StoreFailureException(ex.Store, ex.Message, ex.InnerException) { Unrecorded = [new UnrecordedOutcome(claim, attempt, result, attempts)] };
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
                Unrecorded = [new UnrecordedOutcome(claim, attempt, outcome, attempts)],
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

    /// <summary>The oldest due actions no runner holds, outside <paramref name="busyLanes"/>, at most <paramref name="limit"/>: the daemon's next batches.</summary>
    public IReadOnlyList<(string Key, string Lane)> Claimable(IReadOnlyCollection<string> busyLanes, int limit) =>
        OnStore(() => store.DueKeys(claimable: true, busyLanes, limit), "listing the pending actions");

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
