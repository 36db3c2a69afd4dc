using PlaybookRunner.Core;
using PlaybookRunner.Core.Model;
using Microsoft.Extensions.Logging;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Execution;
using PlaybookRunner.Core.Planning;
using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Hosting;

/// <summary>How the daemon runs.</summary>
/// <param name="Poll">How often it looks for edited playbooks, unclaimed actions and stale ticks (capped at half the lease).</param>
public sealed record DaemonOptions(TimeSpan Poll)
{
    /// <summary>The defaults: poll every 2 seconds, evaluate in process.</summary>
    public static DaemonOptions Default { get; } = new(TimeSpan.FromSeconds(2));

    /// <summary>When set, each tick is evaluated in a worker process started with this command (<see cref="EvaluationWorker"/>); otherwise in process.</summary>
    public WorkerCommand? Worker { get; init; }

    /// <summary>
    /// Reviewed-only mode (<c>daemon --reviewed-plans DIR</c>): schedules are not evaluated; each saved plan put into
    /// this folder is executed as <c>run --plan</c> does, then moved to <c>applied/</c> or <c>refused/</c> with a log.
    /// </summary>
    public string? ReviewedPlans { get; init; }

    /// <summary>Create the state store at start when it does not exist (<c>daemon --create-store</c>); otherwise a missing store stops the start (PB5013).</summary>
    public bool CreateStore { get; init; } = true;
}

/// <summary>What the status page shows about one schedule.</summary>
internal sealed record ScheduleStatus(string Playbook, string Schedule, string Zone, IReadOnlyList<string> Rules, DateTimeOffset? NextRun, TickOutcome? Last);

/// <summary>How a tick ended.</summary>
internal enum TickResult
{
    /// <summary>Evaluated without an error.</summary>
    Ok,

    /// <summary>Evaluated, with errors for some customers or rules (what fired was recorded).</summary>
    Errors,

    /// <summary>Not evaluated: the data could not be read, the worker failed, or the store refused.</summary>
    Failed,
}

/// <summary>How one tick went; <paramref name="SourceErrors"/> counts errors reading its data (PB4xxx), which make the daemon unhealthy until a tick reads cleanly.</summary>
internal sealed record TickOutcome(DateTimeOffset DueAt, DateTimeOffset FinishedAt, TickResult Result, int Findings, int Recorded, int Errors, TimeSpan Duration, int SourceErrors = 0);

/// <summary>
/// <c>playbook daemon</c> without its host: keeps the last good version of the workspace (hot reload),
/// evaluates each schedule when due (claiming each tick once across daemons), and executes recorded
/// actions under claims. Two loops run side by side: the scheduler (ticks, reloads, stale ticks) and the
/// worker (claims and executes pending actions, also those other daemons recorded or left behind).
/// </summary>
internal sealed partial class Daemon : IDisposable
{
    private readonly IReadOnlyList<string> _paths;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly PlaybookEngine _engine;
    private readonly HostContext _host;
    private readonly Secrets _secrets;
    private readonly HttpMessageHandler _handler;
    private readonly SemaphoreSlim _workAvailable = new(0);
    private readonly Dictionary<(string, string), DateTimeOffset?> _nextDue = [];
    private readonly Dictionary<(string, string), TickOutcome> _lastTicks = [];
    private readonly Dictionary<(string, string), DateTimeOffset> _waitingOccurrence = [];
    private readonly Lock _statusLock = new();
    private DaemonVersion? _current;
    private ITimer? _beat;
    private DateTimeOffset _lastLoop;
    private DateTimeOffset? _busySince;

    /// <param name="paths">The workspace folders or playbook files.</param>
    /// <param name="engine">What the engine takes from the process: the clock, the operator's environment, the HTTP handler, the observer.</param>
    /// <param name="logger">Where the daemon logs.</param>
    /// <param name="options">How the daemon runs.</param>
    public Daemon(IReadOnlyList<string> paths, EngineOptions engine, ILogger logger, DaemonOptions options)
    {
        _paths = paths;
        _engine = new PlaybookEngine(engine);
        _host = _engine.Host;
        _time = engine.Time;
        _secrets = new Secrets(_host);
        _handler = engine.HttpHandler();
        _logger = logger;
        Options = options;
        Owner = PlaybookEngine.RunnerId("daemon");
    }

    public DaemonOptions Options { get; }

    /// <summary>This daemon's name in claims.</summary>
    public string Owner { get; }

    public DaemonMetrics Metrics { get; } = new();

    /// <summary>The workspace version running now (null before the first good load).</summary>
    internal DaemonVersion? Current => _current;

    /// <summary>Diagnostics of the last edit that was rejected, until a later edit loads.</summary>
    public IReadOnlyList<Diagnostic> RejectedDiagnostics { get; private set; } = [];

    private TimeSpan Poll => _current is { } current ? TimeSpan.FromTicks(Math.Min(Options.Poll.Ticks, current.Prepared.Workspace.State.Lease.Ticks / 2)) : Options.Poll;

    /// <summary>Loads the workspace for the first time; false (diagnostics logged) when it does not validate.</summary>
    public bool Start()
    {
        var now = _time.GetUtcNow();
        if (!Reload(now))
        {
            return false;
        }

        if (!OpenStoreAtStart())
        {
            return false;
        }

        Heartbeat();
        // Renewed on a timer of its own, not only between polls: a long tick must not let the presence lapse
        // (a run starting then would fire the same customers as the tick).
        var every = _current!.Prepared.Workspace.State.Lease / 3;
        _beat = _time.CreateTimer(_ => Heartbeat(), null, every, every);
        var workspace = _current!.Prepared.Workspace;
        if (Options.ReviewedPlans is { } folder)
        {
            _logger.LogInformation("Daemon {Owner} started in reviewed-only mode with {Playbooks} playbooks: no schedule is evaluated; saved plans put into {Folder} are executed", Owner, workspace.Playbooks.Count, folder);
            return true;
        }

        _logger.LogInformation("Daemon {Owner} started with {Playbooks} playbooks and {Schedules} schedules; ticks are evaluated {Isolation}", Owner, workspace.Playbooks.Count, _current.Units.Count,
            Options.Worker is null ? "in process"
            : $"in a worker process (heap limit {workspace.ExecutionOptions.WorkerMemoryMb} MB, killed after {(int)workspace.ExecutionOptions.WorkerTimeout.TotalSeconds} s)");
        return true;
    }

    /// <summary>Runs, once, the latest tick of each schedule missed while no daemon ran (catchup: one), and sets the next due times.</summary>
    public async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        foreach (var unit in _current!.Units)
        {
            DateTimeOffset? last = null;
            try
            {
                using var store = OpenStore(out _);
                last = store?.LastTick(unit.Playbook, unit.Schedule.Text);
            }
            catch (Exception ex) when (StoreErrors.IsStoreError(ex))
            {
                StoreDown(ex);
            }

            if (unit.CatchUp && last is { } after && unit.LatestMissed(now, after) is { } missed)
            {
                _logger.LogInformation("Catching up {Playbook} ({Schedule}): the tick due {DueAt:o} was missed while no daemon ran", unit.Playbook, unit.Schedule.Text, missed);
                await RunTickAsync(unit, missed, cancellationToken);
            }

            _nextDue[unit.Identity] = unit.NextAfter(now);
        }
    }

    /// <summary>The scheduler loop: reloads, stale ticks, due ticks; until <paramref name="stopping"/>.</summary>
    public async Task RunSchedulerAsync(CancellationToken stopping)
    {
        if (Options.ReviewedPlans is null)
        {
            await CatchUpAsync(stopping);
        }

        var nextPoll = _time.GetUtcNow();
        while (!stopping.IsCancellationRequested)
        {
            var now = _time.GetUtcNow();
            _lastLoop = now;
            if (now >= nextPoll)
            {
                Heartbeat();
                Reload(now);
                if (Options.ReviewedPlans is { } folder)
                {
                    await ApplyReviewedPlansAsync(folder, stopping);
                }
                else
                {
                    await TakeOverStaleTicksAsync(stopping);
                }

                nextPoll = now + Poll;
            }

            if (Options.ReviewedPlans is null)
            {
                await RunDueAsync(now, stopping);
            }

            var wake = _nextDue.Values.Where(d => d is not null).Select(d => d!.Value).Append(nextPoll).Min();
            var delay = wake - _time.GetUtcNow();
            if (delay > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(delay, _time, stopping);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    /// <summary>The worker loop: claims and executes pending actions until <paramref name="stopping"/>; <paramref name="abort"/> cancels the one in flight.</summary>
    public async Task RunWorkerAsync(CancellationToken stopping, CancellationToken abort)
    {
        while (!stopping.IsCancellationRequested)
        {
            int executed;
            try
            {
                executed = await ExecutePendingAsync(stopping, abort);
            }
            catch (OperationCanceledException) when (abort.IsCancellationRequested)
            {
                _logger.LogWarning("Shutdown timed out: the action in flight was abandoned; it stays pending and will be retried with the same key");
                break;
            }

            if (executed == 0)
            {
                try
                {
                    // While the store is unavailable, wait with backoff (1 s doubling up to 5 s) before trying it again.
                    await _workAvailable.WaitAsync(StoreBackoff() ?? Poll, stopping);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    /// <summary>
    /// Reviewed-only mode: executes each saved plan (<c>*.plan.json</c>, in name order) in <paramref name="folder"/> as
    /// <c>run --plan</c> does, then moves it to <c>applied/</c> (it ran; failed actions are dead letters as in any run)
    /// or <c>refused/</c> (it did not match the workspace, or is no plan), with <c>NAME.log</c> beside it saying what
    /// happened. Returns how many plans were taken.
    /// </summary>
    public async Task<int> ApplyReviewedPlansAsync(string folder, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(folder))
        {
            return 0;
        }

        var files = Directory.EnumerateFiles(folder, "*.plan.json").Order(StringComparer.Ordinal).ToList();
        foreach (var file in files)
        {
            // The store this daemon started with, reachable: otherwise the plans wait (a lost store is never a fresh start).
            using (var check = OpenStore(out _))
            {
                if (check is null)
                {
                    return 0;
                }
            }

            RunResult result;
            try
            {
                result = await _engine.ApplyAsync(_paths, file, cancellationToken, createStore: false, besideDaemons: true);
            }
            catch (Exception ex) when (ex is not (OutOfMemoryException or OperationCanceledException))
            {
                // Left in place and tried again at the next poll; the loop goes on with the next plan.
                _logger.LogError("Reviewed plan {Plan} could not be applied now: {Error}", SafeText.OneLine(Path.GetFileName(file)), SafeText.OneLine(_secrets.Scrub(ex.Message)));
                continue;
            }

            if (result.Busy || result.Diagnostics.Any(d => d.Id == DiagnosticDescriptors.StateStore.Id || d.Id == DiagnosticDescriptors.MissingEnv.Id || d.Id == DiagnosticDescriptors.StoreMissing.Id || d.Id == DiagnosticDescriptors.StoreFailed.Id))
            {
                // A run holds the store, or the store cannot be opened now: not a refusal of the plan; tried again next poll.
                _logger.LogWarning("Reviewed plan {Plan} waits: {Reason}", SafeText.OneLine(Path.GetFileName(file)),
                    result.Busy ? "another runner is executing against the state store" : "the state store cannot be opened");
                continue;
            }

            if (result.Actions.Count > 0)
            {
                NoteFirings();
            }

            var root = Directory.GetCurrentDirectory();
            var lines = result.Diagnostics.Select(d => DiagnosticFormatter.FormatText(d, root)).ToList();
            var outcome = result.Plan is null
                ? "refused: nothing was executed"
                : $"applied as of {DateFormats.FormatInstant(result.Plan.AsOf)}: {result.Actions.Count(a => a.Succeeded)} actions succeeded, {result.Actions.Count(a => !a.Succeeded && !a.Abandoned)} failed, {result.Plan.Summary.HeldBack} held back, {result.Plan.Summary.Suppressed} suppressed";
            var target = Path.Combine(folder, result.Plan is null ? "refused" : "applied");
            var name = Path.GetFileName(file);
            try
            {
                Directory.CreateDirectory(target);
                File.WriteAllLines(Path.Combine(target, name + ".log"), [$"{DateFormats.FormatInstant(_time.GetUtcNow())} {name} {outcome}", .. lines]);
                File.Move(file, Path.Combine(target, name), overwrite: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Not moved: it would be applied again next time, which sends nothing twice (its keys are recorded), but say so.
                _logger.LogError("Reviewed plan {Plan}: could not move it to {Target}: {Error}", SafeText.OneLine(name), target, SafeText.OneLine(ex.Message));
            }

            foreach (var line in lines)
            {
                _logger.Log(result.Plan is null ? LogLevel.Error : LogLevel.Warning, "Reviewed plan {Plan}: {Diagnostic}", SafeText.OneLine(name), line);
            }

            _logger.LogInformation("Reviewed plan {Plan} {Outcome}", SafeText.OneLine(name), outcome);
        }

        return files.Count;
    }

    /// <summary>True while the scheduler loop runs (it iterated within three polls, or is evaluating a tick within its time limit) and nothing in <see cref="Problems"/>.</summary>
    public bool Healthy(DateTimeOffset now) => Problems(now).Count == 0;

    /// <summary>
    /// Why the daemon is unhealthy now, one line each (empty: healthy): the scheduler loop stalled, the state store is
    /// unreachable or lost, a schedule's last tick could not read its data, or the backlog is over <c>max_backlog</c>.
    /// </summary>
    public IReadOnlyList<string> Problems(DateTimeOffset now)
    {
        var problems = new List<string>();
        if (_current is null)
        {
            return ["no version of the playbooks is loaded"];
        }

        if (!(now - _lastLoop <= Poll * 3 + TimeSpan.FromSeconds(1) || (_busySince is { } busy && now - busy <= TickLimit(_current.Prepared.Workspace) + Poll * 3)))
        {
            problems.Add("the scheduler loop has stalled");
        }

        problems.AddRange(StoreProblems(now));
        lock (_statusLock)
        {
            problems.AddRange(_lastTicks.Where(t => t.Value.SourceErrors > 0).OrderBy(t => t.Key)
                .Select(t => $"the last tick of {t.Key.Item1} ({t.Key.Item2}) due {DateFormats.FormatInstant(t.Value.DueAt)} could not read its data ({StatusPage.Name(t.Value.Result)}); see the log"));
        }

        return problems;
    }

    private TimeSpan TickLimit(WorkspaceDefinition workspace) => Options.Worker is null
        ? workspace.ExecutionOptions.EvaluationBudget
        : workspace.ExecutionOptions.WorkerTimeout;

    /// <summary>Each schedule with its next run and last result.</summary>
    public IReadOnlyList<ScheduleStatus> Schedules()
    {
        lock (_statusLock)
        {
            return [.. (_current?.Units ?? []).Select(u => new ScheduleStatus(u.Playbook, u.Schedule.Text, u.Zone.Id, [.. u.Rules.Order(StringComparer.Ordinal)],
                _nextDue.GetValueOrDefault(u.Identity), _lastTicks.GetValueOrDefault(u.Identity)))];
        }
    }

    /// <summary>Recent actions of all daemons sharing the store, newest first.</summary>
    public IReadOnlyList<ActionRecord> RecentActions(int limit)
    {
        try
        {
            using var store = OpenStore(out _, write: false);
            return store?.History(null, null, failedOnly: false, limit) ?? [];
        }
        catch (Exception ex) when (StoreErrors.IsStoreError(ex))
        {
            StoreDown(ex);
            return [];
        }
    }

    /// <summary>Renews this daemon's presence among the store's runners, so that a manual <c>run</c> beside it refuses (PB5012).</summary>
    private void Heartbeat()
    {
        try
        {
            using var store = OpenStore(out _);
            store?.Heartbeat(Owner, "daemon");
        }
        catch (Exception ex) when (StoreErrors.IsStoreError(ex))
        {
            StoreDown(ex.Message, StoreUse.Open);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _logger.LogWarning("Could not renew this daemon's presence in the state store: {Error}", SafeText.OneLine(_secrets.Scrub(ex.Message)));
        }
    }

    /// <summary>True when a <c>run</c> is executing against the store: a tick then waits for the next poll, so the two do not both fire.</summary>
    private static bool RunInProgress(StateStore store, string owner) => StorePresence.Live(store, owner).Any(e => e.Kind == "run");

    public void Dispose()
    {
        _beat?.Dispose();
        try
        {
            using var store = _current is null ? null : OpenStore(out _);
            store?.Leave(Owner);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The lease runs out on its own.
        }

        _handler.Dispose();
        _workAvailable.Dispose();
    }
}
