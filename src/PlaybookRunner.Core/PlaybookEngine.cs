using PlaybookRunner.Core.Compilation;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Evaluation;
using PlaybookRunner.Core.Execution;
using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Loading;
using PlaybookRunner.Core.Planning;
using PlaybookRunner.Core.Plugins;
using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Core;

/// <summary>The outcome of <see cref="PlaybookEngine.ValidateAsync"/>.</summary>
public sealed record ValidationResult(IReadOnlyList<Diagnostic> Diagnostics, int Playbooks, int Rules)
{
    /// <summary>True when nothing is an error.</summary>
    public bool Success => !Diagnostics.Any(d => d.IsError);
}

/// <summary>The outcome of <see cref="PlaybookEngine.PlanAsync"/>: a plan, or diagnostics saying why there is none.</summary>
public sealed record PlanResult(Plan? Plan, IReadOnlyList<Diagnostic> Diagnostics)
{
    /// <summary>True when a plan was made and nothing is an error.</summary>
    public bool Success => Plan is not null && !Diagnostics.Any(d => d.IsError);
}

/// <summary>The outcome of <see cref="PlaybookEngine.RunAsync"/>: the plan it executed and every action's outcome.</summary>
public sealed record RunResult(Plan? Plan, IReadOnlyList<ExecutedAction> Actions, IReadOnlyList<Diagnostic> Diagnostics)
{
    /// <summary>True when nothing ran because another runner (a run or a daemon) is executing against the store (PB5012).</summary>
    public bool Busy { get; init; }

    /// <summary>
    /// True when the plan was made, nothing is an error, every action succeeded (or was left to the runner that
    /// claimed it) and none waits for a retry, of this run or an earlier one: an action waiting is not delivered yet.
    /// </summary>
    public bool Success => Plan is not null && !Diagnostics.Any(d => d.IsError) && Plan.Errors.Count == 0 && Actions.All(a => a.Succeeded || a.Abandoned) && Waiting.Count == 0;

    /// <summary>Actions of earlier runs still waiting for their retry time (after a transient failure), and the earliest.</summary>
    public (int Count, DateTimeOffset? Next) Waiting { get; init; }
}

/// <summary>The outcome of <see cref="PlaybookEngine.ExplainAsync"/>: an explanation, or diagnostics saying why there is none.</summary>
public sealed record ExplainResult(Explanation? Explanation, IReadOnlyList<Diagnostic> Diagnostics)
{
    /// <summary>True when there is an explanation and nothing is an error.</summary>
    public bool Success => Explanation is not null && !Diagnostics.Any(d => d.IsError);
}

/// <summary>The outcome of <see cref="PlaybookEngine.DescribeSourceAsync"/>: the description, or diagnostics saying why there is none.</summary>
public sealed record SourceDescription(string? Text, IReadOnlyList<Diagnostic> Diagnostics)
{
    /// <summary>True when the source was described and nothing is an error.</summary>
    public bool Success => Text is not null && !Diagnostics.Any(d => d.IsError);
}

/// <summary>The outcome of <see cref="PlaybookEngine.HistoryAsync"/>: what was done, newest first.</summary>
public sealed record HistoryResult(IReadOnlyList<HistoryEntry> Entries, IReadOnlyList<Diagnostic> Diagnostics)
{
    /// <summary>True when the store was read and nothing is an error.</summary>
    public bool Success => !Diagnostics.Any(d => d.IsError);
}

/// <summary>The outcome of <see cref="PlaybookEngine.RequeueAsync"/>: the dead letters put back, and those left because their rule fired again since.</summary>
public sealed record RequeueResult(IReadOnlyList<HistoryEntry> Requeued, IReadOnlyList<(HistoryEntry Entry, DateTimeOffset Since)> Superseded, IReadOnlyList<Diagnostic> Diagnostics)
{
    /// <summary>True when nothing is an error.</summary>
    public bool Success => !Diagnostics.Any(d => d.IsError);
}

/// <summary>One row of <c>playbook history</c>.</summary>
public sealed record HistoryEntry(DateTimeOffset FiredAt, string Playbook, string Rule, string Key, int ActionIndex, string Type, string State, int Attempts, string? LastError, string IdempotencyKey)
{
    /// <summary>For a pending action that failed transiently: when it is attempted again.</summary>
    public DateTimeOffset? RetryAt { get; init; }
}

/// <summary>
/// The engine's small public facade: validate, plan, run, test, explain, history and requeue, each async and
/// each answering with a result that carries its diagnostics. Never throws on bad input. One instance per
/// process (or per test) with its <see cref="EngineOptions"/>: the clock, the operator's environment, the
/// HTTP handler and the observer; nothing is read from process-wide state.
/// </summary>
/// <param name="options">What the engine takes from the process it runs in.</param>
public sealed partial class PlaybookEngine(EngineOptions options)
{
    /// <summary>How long one regular-expression match may take anywhere in the process (<see cref="ConfigureProcess"/>).</summary>
    public static readonly TimeSpan RegexMatchTimeout = TimeSpan.FromMilliseconds(250);

    /// <summary>The options this engine was made with.</summary>
    public EngineOptions Options => options;

    /// <summary>The clock and the operator's environment.</summary>
    internal HostContext Host { get; } = options.Host();

    /// <summary>
    /// The process-wide settings the engine relies on, for the composition root to apply once at start-up:
    /// every regular expression (a plugin's, a template's) gets a default match timeout, so none runs away.
    /// </summary>
    public static void ConfigureProcess() => AppContext.SetData("REGEX_DEFAULT_MATCH_TIMEOUT", RegexMatchTimeout);

    /// <summary>
    /// For one-shot commands: when one evaluation overruns its time budget by the watchdog's grace, calls
    /// <paramref name="stop"/> with the reason (which ends the process) rather than letting it run on.
    /// A daemon never enables this: its worker process is killed instead.
    /// </summary>
    public static void StopProcessOnOverrun(Action<string> stop) => EvaluationWatchdog.Enable(stop);

    /// <summary>Load, bind sources and compile; null (with diagnostics) when anything is an error.</summary>
    private Prepared? Prepare(IReadOnlyList<string> paths, DiagnosticBag diagnostics, DateTimeOffset now, bool load) =>
        Prepare(LoadWhilePluginsLoad(paths, diagnostics), diagnostics, now, load);

    /// <summary>
    /// Loads the workspace while the plugins next to the tool load on another thread: both are needed
    /// before compiling, and on two cores this takes the plugins (tens of milliseconds) off start-up.
    /// </summary>
    private WorkspaceDefinition? LoadWhilePluginsLoad(IReadOnlyList<string> paths, DiagnosticBag diagnostics)
    {
        _ = Task.Run(() => PluginCatalog.Load([], BuiltInSources.All));
        return WorkspaceLoader.Load(paths, Host, diagnostics);
    }

    /// <summary>Bind sources and compile a loaded workspace; null (with diagnostics) when anything is an error.</summary>
    internal static Prepared? Prepare(WorkspaceDefinition? workspace, DiagnosticBag diagnostics, DateTimeOffset now, bool load)
    {
        if (workspace is null || workspace.Playbooks.Count == 0)
        {
            return null;
        }

        CheckSuppressions(workspace, now, diagnostics);
        var catalog = PluginCatalog.Load(workspace.PluginFolders, BuiltInSources.All);
        if (!SourceBinder.Check(workspace, catalog, diagnostics))
        {
            // Conditions are typed by the sources' records: compile once the sources bind. Errors elsewhere
            // (another file's schema, a suppression) do not stop the compile: every independent error in one pass.
            return null;
        }

        var compiled = PlaybookCompiler.Compile(workspace, diagnostics, load);
        return compiled is null || diagnostics.HasErrors ? null : new Prepared(workspace, catalog, compiled);
    }

    private static void CheckSuppressions(WorkspaceDefinition workspace, DateTimeOffset now, DiagnosticBag diagnostics)
    {
        foreach (var suppression in workspace.Suppressions)
        {
            var target = suppression.Rule;
            var playbook = target.MatchingPlaybooks(workspace.Playbooks).FirstOrDefault();
            if (playbook is null)
            {
                diagnostics.Add(DiagnosticDescriptors.DanglingSuppression, suppression.Location, target.ToString(),
                    Yaml.YamlSchemaValidator.Suggest(target.ToString(), workspace.Playbooks.SelectMany(p => p.Rules.Select(r => $"{p.Id}/{r.Id}"))));
                continue;
            }

            var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, playbook.TimeZone).DateTime);
            if (suppression.Until is { } until && until < today)
            {
                diagnostics.Add(DiagnosticDescriptors.ExpiredSuppression, suppression.Location, target.ToString(),
                    suppression.Key is null ? "" : $" for key '{suppression.Key}'", until.ToString(DateFormats.Date, System.Globalization.CultureInfo.InvariantCulture));
            }
        }
    }

    /// <summary>Parses, schema-checks and compiles; reads no data. Suppressions are checked as of the engine's clock.</summary>
    public Task<ValidationResult> ValidateAsync(IReadOnlyList<string> paths, CancellationToken cancellationToken = default) => Task.Run(() =>
    {
        var diagnostics = new DiagnosticBag();
        var workspace = LoadWhilePluginsLoad(paths, diagnostics);
        Prepare(workspace, diagnostics, options.Time.GetUtcNow(), load: false);
        return new ValidationResult(diagnostics.Sorted(), workspace?.Playbooks.Count ?? 0, workspace?.Playbooks.Sum(p => p.Rules.Count) ?? 0);
    }, cancellationToken);

    /// <summary>
    /// Describes a source named in runner.yaml: its declared fields and, for csv and jsonl, fields
    /// inferred from a sample of the data. Null text with diagnostics when the source is not found.
    /// </summary>
    public Task<SourceDescription> DescribeSourceAsync(IReadOnlyList<string> paths, string name, CancellationToken cancellationToken = default) =>
        Task.Run(() => DescribeSource(paths, name), cancellationToken);

    private SourceDescription DescribeSource(IReadOnlyList<string> paths, string name)
    {
        var diagnostics = new DiagnosticBag();
        var workspace = WorkspaceLoader.Load(paths, Host, diagnostics, requirePlaybooks: false);
        SourceDefinition? source = null;
        if (workspace is not null && !workspace.Sources.TryGetValue(name, out source) && workspace.BrokenSources.Contains(name)
            && WorkspaceLoader.ReadUndeclared(workspace, name) is { } undeclared)
        {
            // A source written without fields: yet, to have them inferred. Its only error was the missing fields.
            source = undeclared;
            var others = diagnostics.Items.Where(d => !(d.Id == DiagnosticDescriptors.MissingKey.Id && d.Message.Contains("'fields'", StringComparison.Ordinal))).ToList();
            diagnostics = new DiagnosticBag();
            diagnostics.AddRange(others);
        }

        if (workspace is null || source is null)
        {
            if (workspace is not null)
            {
                var known = string.Join(", ", workspace.Sources.Keys.Order(StringComparer.Ordinal));
                diagnostics.Add(DiagnosticDescriptors.UnknownSource, workspace.RunnerPath is null ? SourceLocation.None : SourceLocation.At(workspace.RunnerPath, 1, 1),
                    name, workspace.RunnerPath is null ? " (no runner.yaml)" : $" in runner.yaml (known: {known})");
            }

            return new SourceDescription(null, diagnostics.Sorted());
        }

        if (source.FullPath is { } path && !WorkspacePaths.IsInside(path, workspace.Roots))
        {
            // Reported by the loader (PB1030); nothing of the file is read.
            return new SourceDescription(null, diagnostics.Sorted());
        }

        try
        {
            return new SourceDescription(SourceDescriber.Describe(source), diagnostics.Sorted());
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or Sylvan.Data.Csv.CsvFormatException or System.Text.DecoderFallbackException)
        {
            diagnostics.Add(DiagnosticDescriptors.DataRead, source.Location, source.Name, ex.Message.TrimEnd('.'));
            return new SourceDescription(null, diagnostics.Sorted());
        }
    }

    /// <summary>
    /// Validates, reads the data and evaluates as of <paramref name="asOf"/>. Reads the state store, never writes it.
    /// Warns (PB5005) when a playbook's max_actions or <paramref name="maxActions"/> is exceeded.
    /// </summary>
    /// <param name="paths">Playbook files or folders.</param>
    /// <param name="asOf">The evaluation instant.</param>
    /// <param name="cancellationToken">Stops reading and evaluating.</param>
    /// <param name="maxActions">A blast-radius limit on top of the playbooks' own.</param>
    /// <param name="explain">Attach to each finding the values of its condition's parts.</param>
    /// <param name="progress">Told how many records of a streamed source have been read so far.</param>
    /// <param name="provenance">Record what the plan was made from (for <c>run --plan</c>): digests of the workspace files and file-based sources, the git commit.</param>
    public async Task<PlanResult> PlanAsync(IReadOnlyList<string> paths, DateTimeOffset asOf, CancellationToken cancellationToken = default, int? maxActions = null, bool explain = false, IProgress<long>? progress = null, bool provenance = false)
    {
        var diagnostics = new DiagnosticBag();
        if (Prepare(paths, diagnostics, asOf, load: !explain) is not { } prepared)
        {
            return new PlanResult(null, diagnostics.Sorted());
        }

        if (explain)
        {
            if (PlaybookCompiler.Compile(prepared.Workspace, diagnostics, load: true, explain: true) is not { } instrumented)
            {
                return new PlanResult(null, diagnostics.Sorted());
            }

            prepared = prepared with { Compiled = instrumented };
        }

        var secrets = new Secrets(Host);
        using var store = OpenStore(prepared.Workspace, write: false, secrets, options.Time, diagnostics);
        if (store is null)
        {
            return new PlanResult(null, diagnostics.Sorted());
        }

        var sink = explain ? new ExplainSink(null) : null;
        ExplainSink.Current = sink;
        Plan? plan;
        try
        {
            plan = await Planner.PlanAsync(prepared.Compiled!, asOf, store, prepared.Catalog, secrets, diagnostics, cancellationToken, progress: progress);
        }
        finally
        {
            ExplainSink.Current = null;
        }

        if (plan is not null && sink is not null)
        {
            var compiled = prepared.Compiled!;
            plan = plan with
            {
                Findings = [.. plan.Findings.Select(f =>
                {
                    var playbook = prepared.Workspace.Playbooks.First(p => p.Id == f.Playbook);
                    return f with { Explanation = Explainer.Parts(compiled, sink, playbook, f.RuleIndex, f.Key) };
                })],
            };
        }

        if (plan is not null && BlastRadius.Check(plan, prepared.Workspace, maxActions, refuse: false) is { Count: > 0 } warnings)
        {
            diagnostics.AddRange(warnings);
            plan = plan with { Diagnostics = [.. plan.Diagnostics, .. warnings] };
        }

        if (plan is not null && Preflight.ChannelSecrets(plan, prepared.Workspace) is { Count: > 0 } unset)
        {
            diagnostics.AddRange(unset);
            plan = plan with { Diagnostics = DiagnosticBag.Sort([.. plan.Diagnostics, .. unset]) };
        }

        if (plan is not null && provenance)
        {
            plan = plan with { Provenance = Provenance.Of(prepared.Workspace, asOf) };
        }

        return new PlanResult(plan, diagnostics.Sorted());
    }

    /// <summary>
    /// What <c>plan</c> shows, executed once: pending actions of an earlier crashed run first, each action recorded.
    /// With a <paramref name="scope"/> that narrows (<c>run --rule/--key</c>), only those findings' actions, and no recovery.
    /// </summary>
    /// <remarks>
    /// With <paramref name="createStore"/> false (the CLI's default, <c>run</c> without <c>--create-store</c>), a state
    /// store that does not exist is PB5013 and nothing runs: a lost store is never a silent fresh start.
    /// </remarks>
    public async Task<RunResult> RunAsync(IReadOnlyList<string> paths, DateTimeOffset asOf, CancellationToken cancellationToken = default, int? maxActions = null, RunScope? scope = null, bool createStore = true)
    {
        var diagnostics = new DiagnosticBag();
        scope ??= new RunScope([], []);
        if (Prepare(paths, diagnostics, asOf, load: true) is not { } prepared || !CheckScope(scope, prepared.Workspace, diagnostics))
        {
            return new RunResult(null, [], diagnostics.Sorted());
        }

        return await ExecuteInStoreAsync(prepared, diagnostics, maxActions, createStore, besideDaemons: false, cancellationToken, async (store, secrets) =>
        {
            var plan = await Planner.PlanAsync(prepared.Compiled!, asOf, store, prepared.Catalog, secrets, diagnostics, cancellationToken);
            return (plan is null ? null : scope.Apply(plan), scope.IsAll);
        });
    }

    /// <summary>
    /// <c>run --plan FILE</c>: executes only the actions of a saved plan, as they were reviewed, when the workspace is
    /// the one the plan was made from (PB1037 otherwise, and nothing runs). Cooldowns and suppressions are checked
    /// again now: a finding held back or suppressed since is reported (PB5011), not executed. An action of the plan
    /// that was already executed (or is a dead letter) is not executed again: its idempotency key is the plan's.
    /// </summary>
    /// <remarks>With <paramref name="besideDaemons"/> (a reviewed-only daemon applying it) daemons sharing the store are not in the way; another run is.</remarks>
    public async Task<RunResult> ApplyAsync(IReadOnlyList<string> paths, string planFile, CancellationToken cancellationToken = default, int? maxActions = null, RunScope? scope = null, bool createStore = true, bool besideDaemons = false)
    {
        var time = options.Time;
        var diagnostics = new DiagnosticBag();
        scope ??= new RunScope([], []);
        if (SavedPlan.Read(planFile, diagnostics) is not { } saved)
        {
            return new RunResult(null, [], diagnostics.Sorted());
        }

        var workspace = LoadWhilePluginsLoad(paths, diagnostics);
        if (workspace is null || !SavedPlan.Matches(saved.Provenance, workspace, planFile, diagnostics)
            || Prepare(workspace, diagnostics, time.GetUtcNow(), load: true) is not { } prepared || !CheckScope(scope, workspace, diagnostics))
        {
            return new RunResult(null, [], diagnostics.Sorted());
        }

        return await ExecuteInStoreAsync(prepared, diagnostics, maxActions, createStore, besideDaemons, cancellationToken, async (store, secrets) =>
        {
            if (SavedPlan.DataUnchanged(saved.Provenance, workspace))
            {
                // The same workspace and the same data render the same plan: anything else in the file was not made here.
                var fresh = await Planner.PlanAsync(prepared.Compiled!, saved.Plan.AsOf, store, prepared.Catalog, secrets, diagnostics, cancellationToken);
                if (fresh is null || !SavedPlan.Renders(saved.Plan, fresh, planFile, diagnostics))
                {
                    return null;
                }
            }
            else if (!SavedPlan.FitsTemplates(saved.Plan, workspace, planFile, diagnostics))
            {
                return null;
            }

            var plan = scope.Apply(SavedPlan.Recheck(saved.Plan, workspace, store, time.GetUtcNow()));
            var before = saved.Plan.Findings.Where(f => f.IsPending).Select(f => (f.Playbook, f.Rule, f.Key)).ToHashSet();
            var nowHeld = plan.Findings.Where(f => !f.IsPending && before.Contains((f.Playbook, f.Rule, f.Key))).ToList();
            if (nowHeld.Count > 0)
            {
                diagnostics.Add(DiagnosticDescriptors.HeldSincePlan, SourceLocation.At(planFile, 1, 1), nowHeld.Count,
                    string.Join(", ", nowHeld.Take(5).Select(f => $"{f.Playbook}/{f.Rule} {SafeText.OneLine(f.Key)} ({(f.Suppressed ? "suppressed" : $"held back until {DateFormats.FormatInstant(f.HeldBackUntil!.Value)}")})"))
                    + (nowHeld.Count > 5 ? $" and {nowHeld.Count - 5} more" : ""));
            }

            return (plan, false);
        });
    }

    /// <summary>
    /// What <c>run</c> and <c>run --plan</c> share: the store opened for writing, the HTTP client (no redirects:
    /// a redirect would carry the channel's headers, and its secrets, to another host), this run registered as
    /// the store's runner (PB5012 when another is live), then the plan <paramref name="plan"/> makes (null: stop,
    /// with its diagnostics) executed, recovering earlier runs' actions first when it says so.
    /// </summary>
    private async Task<RunResult> ExecuteInStoreAsync(Prepared prepared, DiagnosticBag diagnostics, int? maxActions, bool createStore, bool besideDaemons, CancellationToken cancellationToken,
        Func<StateStore, Secrets, Task<(Plan? Plan, bool Recover)?>> plan)
    {
        var workspace = prepared.Workspace;
        var time = options.Time;
        var secrets = new Secrets(Host);
        using var store = OpenStore(workspace, write: true, secrets, time, diagnostics, create: createStore);
        if (store is null)
        {
            return new RunResult(null, [], diagnostics.Sorted());
        }

        using var http = new HttpClient(options.HttpHandler(), disposeHandler: true) { Timeout = workspace.ExecutionOptions.Timeout };
        var owner = RunnerId("run");
        using var presence = StorePresence.Enter(store, owner, () => OpenStore(workspace, write: true, secrets, time, new DiagnosticBag()), time, diagnostics, besideDaemons);
        if (presence is null)
        {
            return new RunResult(null, [], diagnostics.Sorted()) { Busy = true };
        }

        await using var runner = CreateRunner(prepared, store, secrets, http, time, owner, logger: null, options.Observer);
        if (await plan(store, secrets) is not { } planned)
        {
            return new RunResult(null, [], diagnostics.Sorted());
        }

        var result = await ExecuteAsync(planned.Plan, workspace, runner, maxActions, planned.Recover, diagnostics, cancellationToken);
        try
        {
            return result with { Waiting = store.Waiting() };
        }
        catch (Exception ex) when (StoreErrors.IsStoreError(ex))
        {
            return result;
        }
    }

    /// <summary>The blast-radius check, recovery when asked, then the plan's pending actions; failures as PB5004.</summary>
    private static async Task<RunResult> ExecuteAsync(Plan? plan, WorkspaceDefinition workspace, RunExecutor runner, int? maxActions, bool recover, DiagnosticBag diagnostics, CancellationToken cancellationToken)
    {
        if (plan is not null && BlastRadius.Check(plan, workspace, maxActions, refuse: true) is { Count: > 0 } refusals)
        {
            diagnostics.AddRange(refusals);
            return new RunResult(plan, [], diagnostics.Sorted());
        }

        // One run on a SQLite store finishes whatever a crashed run left, claimed or not; on a shared
        // store it leaves live claims to the daemons holding them. A targeted run or a saved plan runs its own actions only.
        var executed = recover
            ? new List<ExecutedAction>(await runner.RecoverAsync(steal: workspace.State.Kind == "sqlite", CancellationToken.None, cancellationToken))
            : [];
        if (plan is not null)
        {
            executed.AddRange(await runner.ExecuteAsync(plan, cancellationToken));
        }

        foreach (var failed in executed.Where(a => !a.Succeeded && !a.Abandoned))
        {
            if (failed.RetryAt is { } retryAt)
            {
                diagnostics.Add(DiagnosticDescriptors.ActionRetrying, SourceLocation.None, $"{failed.Playbook}/{failed.Rule}", failed.Type, failed.Key, failed.Message,
                    DateFormats.FormatInstant(retryAt), DateFormats.FormatInstant(failed.GivesUpAt!.Value));
            }
            else
            {
                diagnostics.Add(DiagnosticDescriptors.ActionFailed, SourceLocation.None, $"{failed.Playbook}/{failed.Rule}", failed.Type, failed.Key, failed.Message);
            }
        }

        if (runner.Failure is { } failure)
        {
            diagnostics.Add(DiagnosticDescriptors.StoreFailed, SourceLocation.None, failure.Store, failure.Message);
        }

        return new RunResult(plan, executed, diagnostics.Sorted());
    }

    /// <summary>False with PB1039 for each <c>--rule</c> no rule of the workspace answers to.</summary>
    private static bool CheckScope(RunScope scope, WorkspaceDefinition workspace, DiagnosticBag diagnostics)
    {
        var names = workspace.Playbooks.SelectMany(p => p.Rules.SelectMany(r => new[] { $"{p.Id}/{r.Id}", r.Id })).ToHashSet(StringComparer.Ordinal);
        var ok = true;
        foreach (var rule in scope.Rules.Where(r => !names.Contains(r)))
        {
            diagnostics.Add(DiagnosticDescriptors.UnknownRunRule, SourceLocation.None, rule, Yaml.YamlSchemaValidator.Suggest(rule, names));
            ok = false;
        }

        foreach (var rule in scope.Rules.Where(r => !r.Contains('/', StringComparison.Ordinal)))
        {
            // A bare rule id names a rule only when one playbook has it: otherwise say which to choose.
            var owners = workspace.Playbooks.Where(p => p.Rules.Any(r => r.Id == rule)).Select(p => $"{p.Id}/{rule}").ToList();
            if (owners.Count > 1)
            {
                diagnostics.Add(DiagnosticDescriptors.UnknownRunRule, SourceLocation.None, rule, $" as one rule: {owners.Count} playbooks have it; name one of {string.Join(", ", owners)}");
                ok = false;
            }
        }

        return ok;
    }

    /// <summary>
    /// Runs the playbook tests (*.test.yaml) under <paramref name="paths"/>: compiles the workspace once,
    /// then evaluates each test's records as of its as_of, with its history instead of the state store.
    /// </summary>
    public async Task<Testing.TestRunResult> TestAsync(IReadOnlyList<string> paths, CancellationToken cancellationToken = default)
    {
        var diagnostics = new DiagnosticBag();
        var files = Testing.PlaybookTestLoader.Find(paths);
        var tests = files.SelectMany(f => Testing.PlaybookTestLoader.Load(f, diagnostics)).ToList();
        var workspacePaths = paths.Select(p => Testing.PlaybookTestLoader.IsTestFile(p) ? Path.GetDirectoryName(Path.GetFullPath(p))! : p).Distinct().ToList();
        var workspace = WorkspaceLoader.Load(workspacePaths, Host, diagnostics);
        var rules = workspace?.Playbooks.SelectMany(p => p.Rules.Select(r => $"{p.Id}/{r.Id}")).ToList() ?? [];
        if (files.Count == 0)
        {
            diagnostics.Add(DiagnosticDescriptors.NoTests, SourceLocation.None, string.Join(", ", paths));
        }

        // Tests run against what validate accepts: suppressions are checked as of the engine's clock.
        if (Prepare(workspace, diagnostics, options.Time.GetUtcNow(), load: true) is not { } prepared || diagnostics.HasErrors)
        {
            return new Testing.TestRunResult([], diagnostics.Sorted(), rules, rules);
        }

        var results = new List<Testing.TestCaseResult>();
        foreach (var test in tests)
        {
            results.Add(await Testing.PlaybookTestRunner.RunAsync(prepared, test, cancellationToken));
        }

        var covered = tests.SelectMany(t => t.Expect.Select(e => $"{t.Playbook}/{e.Rule}")).ToHashSet(StringComparer.Ordinal);
        return new Testing.TestRunResult(results, diagnostics.Sorted(), rules, [.. rules.Where(r => !covered.Contains(r))]);
    }

    /// <summary>
    /// Why <paramref name="rule"/> (playbook/rule, or a rule id only one playbook has) does or does not fire
    /// for the customer <paramref name="key"/> as of <paramref name="asOf"/>: the value of each part of its
    /// condition, the segments and lets, the cooldown and the suppressions. Reads data; no side effects.
    /// </summary>
    public async Task<ExplainResult> ExplainAsync(IReadOnlyList<string> paths, string rule, string key, DateTimeOffset asOf, CancellationToken cancellationToken = default)
    {
        var diagnostics = new DiagnosticBag();
        if (Prepare(paths, diagnostics, asOf, load: false) is not { } prepared)
        {
            return new ExplainResult(null, diagnostics.Sorted());
        }

        var workspace = prepared.Workspace;
        var candidates = workspace.Playbooks
            .SelectMany(p => p.Rules.Select((r, i) => (Playbook: p, Index: i, Name: $"{p.Id}/{r.Id}")))
            .Where(c => c.Name == rule || (!rule.Contains('/', StringComparison.Ordinal) && c.Playbook.Rules[c.Index].Id == rule))
            .ToList();
        if (candidates.Count != 1)
        {
            var all = string.Join(", ", workspace.Playbooks.SelectMany(p => p.Rules.Select(r => $"{p.Id}/{r.Id}")));
            diagnostics.Add(DiagnosticDescriptors.NotFound, SourceLocation.None, candidates.Count == 0
                ? $"No rule '{rule}' (rules: {all})"
                : $"Rule '{rule}' is in several playbooks ({string.Join(", ", candidates.Select(c => c.Name))}); write playbook/rule");
            return new ExplainResult(null, diagnostics.Sorted());
        }

        var (playbook, ruleIndex, _) = candidates[0];
        if (PlaybookCompiler.Compile(workspace, diagnostics, load: true, explain: true) is not { } compiled)
        {
            return new ExplainResult(null, diagnostics.Sorted());
        }

        var secrets = new Secrets(Host);
        using var store = OpenStore(workspace, write: false, secrets, options.Time, diagnostics);
        if (store is null)
        {
            return new ExplainResult(null, diagnostics.Sorted());
        }

        var sink = new ExplainSink(key);
        ExplainSink.Current = sink;
        Plan? plan;
        try
        {
            plan = await Planner.PlanAsync(compiled, asOf, store, prepared.Catalog, secrets, diagnostics, cancellationToken,
                new PlanScope(playbook.Id, new HashSet<string>(StringComparer.Ordinal) { playbook.Rules[ruleIndex].Id }));
        }
        finally
        {
            ExplainSink.Current = null;
        }

        if (plan is null)
        {
            return new ExplainResult(null, diagnostics.Sorted());
        }

        if (!sink.Seen.Contains((playbook.Id, key)))
        {
            diagnostics.Add(DiagnosticDescriptors.NotFound, playbook.Source.Location, $"No record with key '{key}' in source '{playbook.Source.Name}' of playbook '{playbook.Id}'");
            return new ExplainResult(null, diagnostics.Sorted());
        }

        return new ExplainResult(Explainer.Explain(compiled, sink, plan, playbook, ruleIndex, key, store, workspace), diagnostics.Sorted());
    }

    /// <summary>What was done, newest first, from the state store.</summary>
    public Task<HistoryResult> HistoryAsync(IReadOnlyList<string> paths, string? rule, string? key, bool failedOnly, int limit = 1000, CancellationToken cancellationToken = default) =>
        Task.Run(() => History(paths, rule, key, failedOnly, limit), cancellationToken);

    private HistoryResult History(IReadOnlyList<string> paths, string? rule, string? key, bool failedOnly, int limit)
    {
        var diagnostics = new DiagnosticBag();
        var workspace = WorkspaceLoader.Load(paths, Host, diagnostics, requirePlaybooks: false);
        if (workspace is null)
        {
            return new HistoryResult([], diagnostics.Sorted());
        }

        using var store = OpenStore(workspace, write: false, new Secrets(Host), options.Time, diagnostics);
        var entries = store?.History(rule, key, failedOnly, limit)
            .Select(r => new HistoryEntry(r.FiredAt, r.Playbook, r.Rule, r.Key, r.ActionIndex, r.Type, StateStore.StateName(r.State), r.Attempts, r.LastError, r.IdempotencyKey)
            {
                RetryAt = r.State == ActionState.Pending ? r.RetryAt : null,
            })
            .ToList() ?? [];
        if (rule is not null && entries.Count == 0)
        {
            // A rule since removed still has its history; one the workspace never had is most likely a typo.
            var names = workspace.Playbooks.SelectMany(p => p.Rules.SelectMany(r => new[] { $"{p.Id}/{r.Id}", r.Id })).ToHashSet(StringComparer.Ordinal);
            if (!names.Contains(rule))
            {
                diagnostics.Add(new Diagnostic(DiagnosticDescriptors.UnknownRunRule, SourceLocation.None, DiagnosticSeverity.Warning,
                    DiagnosticDescriptors.UnknownRunRule.Format([rule, Yaml.YamlSchemaValidator.Suggest(rule, names)])));
            }
        }

        return new HistoryResult(entries, diagnostics.Sorted());
    }

    /// <summary>
    /// <c>playbook requeue</c>: dead letters (of a rule, a key, or all) back to pending with their original
    /// idempotency keys, recorded in history; the next <c>run</c> or the daemon delivers them.
    /// </summary>
    public Task<RequeueResult> RequeueAsync(IReadOnlyList<string> paths, string? rule, string? key, CancellationToken cancellationToken = default) =>
        Task.Run(() => Requeue(paths, rule, key), cancellationToken);

    private RequeueResult Requeue(IReadOnlyList<string> paths, string? rule, string? key)
    {
        var diagnostics = new DiagnosticBag();
        var workspace = WorkspaceLoader.Load(paths, Host, diagnostics, requirePlaybooks: false);
        if (workspace is null || diagnostics.HasErrors)
        {
            return new RequeueResult([], [], diagnostics.Sorted());
        }

        using var store = OpenStore(workspace, write: true, new Secrets(Host), options.Time, diagnostics, create: false);
        if (store is null)
        {
            return new RequeueResult([], [], diagnostics.Sorted());
        }

        var (requeued, superseded) = store.Requeue(rule, key, options.Time.GetUtcNow());
        static HistoryEntry Entry(ActionRecord r, string state) =>
            new(r.FiredAt, r.Playbook, r.Rule, r.Key, r.ActionIndex, r.Type, state, r.Attempts, r.LastError, r.IdempotencyKey);
        return new RequeueResult([.. requeued.Select(r => Entry(r, "pending"))], [.. superseded.Select(s => (Entry(s.Action, "dead"), s.Since))], diagnostics.Sorted());
    }

    /// <summary>A name for this runner in claims: kind, host and process.</summary>
    internal static string RunnerId(string kind) =>
        $"{kind}:{Environment.MachineName}:{Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)}:{Guid.NewGuid().ToString("N")[..8]}";

    internal static RunExecutor CreateRunner(Prepared prepared, StateStore store, Secrets secrets, HttpClient http, TimeProvider time, string owner, Microsoft.Extensions.Logging.ILogger? logger, IExecutionObserver? observer)
    {
        var workspace = prepared.Workspace;
        var executor = new ActionExecutor(workspace, prepared.Catalog, secrets, http, time);
        var options = workspace.ExecutionOptions;
        var retry = new RetryPolicy(options.MaxAttempts, options.Backoff, options.RetryHorizon);
        return new RunExecutor(store, executor, time, retry, owner, logger, lane => RunExecutor.LaneLimit(workspace, lane)) { Observer = observer };
    }

    /// <summary>
    /// Opens the workspace's state store (SQLite file or PostgreSQL); null with a diagnostic when it cannot be opened.
    /// For writing, a store that does not exist is created only when <paramref name="create"/> (PB5013 otherwise).
    /// </summary>
    internal static StateStore? OpenStore(WorkspaceDefinition workspace, bool write, Secrets secrets, TimeProvider time, DiagnosticBag diagnostics, bool create = true)
    {
        var state = workspace.State;
        if (state.Kind == "postgres")
        {
            var location = state.Location;
            if (!secrets.TryResolve(state.Settings["connection"], out var connection, out var missing))
            {
                diagnostics.Add(DiagnosticDescriptors.MissingEnv, location, missing!);
                return null;
            }

            try
            {
                return PostgresStateStore.Open(connection, write, time, state.Lease, create);
            }
            catch (StoreMissingException ex)
            {
                diagnostics.Add(DiagnosticDescriptors.StoreMissing, location, ex.Store);
                return null;
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or InvalidOperationException or ArgumentException or TimeoutException)
            {
                diagnostics.Add(DiagnosticDescriptors.StateStore, location, "postgres", secrets.Scrub(ex.Message.TrimEnd('.')));
                return null;
            }
        }

        try
        {
            return write ? SqliteStateStore.OpenForWrite(workspace.StatePath, time, state.Lease, create) : SqliteStateStore.OpenReadOnly(workspace.StatePath, time);
        }
        catch (StoreMissingException ex)
        {
            diagnostics.Add(DiagnosticDescriptors.StoreMissing, SourceLocation.None, ex.Store);
            return null;
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            diagnostics.Add(DiagnosticDescriptors.StateStore, SourceLocation.None, workspace.StatePath, ex.Message.TrimEnd('.'));
            return null;
        }
    }
}
