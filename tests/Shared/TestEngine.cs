using PlaybookRunner.Core;
using PlaybookRunner.Core.Execution;
using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Tests.Shared;

/// <summary>
/// The tests' composition root: engines with the process environment the test run set up
/// (<see cref="TestOperatorSettings"/>) and the clock a test gives, and short synchronous forms of the
/// engine's calls for tests that do not need more.
/// </summary>
internal static class TestEngine
{
    public static EngineOptions Options(TimeProvider? time = null, IExecutionObserver? observer = null) =>
        new() { Time = time ?? TimeProvider.System, Environment = Environment.GetEnvironmentVariable, Observer = observer };

    public static HostContext Host(TimeProvider? time = null) => new(time ?? TimeProvider.System, Environment.GetEnvironmentVariable);

    public static PlaybookEngine Engine(TimeProvider? time = null, IExecutionObserver? observer = null) => new(Options(time, observer));

    public static ValidationResult Validate(IReadOnlyList<string> paths, TimeProvider? time = null) =>
        Engine(time).ValidateAsync(paths).GetAwaiter().GetResult();

    public static SourceDescription DescribeSource(IReadOnlyList<string> paths, string name) =>
        Engine().DescribeSourceAsync(paths, name).GetAwaiter().GetResult();

    public static PlanResult Plan(IReadOnlyList<string> paths, DateTimeOffset asOf, CancellationToken cancellationToken = default) =>
        Engine().PlanAsync(paths, asOf, cancellationToken).GetAwaiter().GetResult();

    public static Task<PlanResult> PlanAsync(IReadOnlyList<string> paths, DateTimeOffset asOf, CancellationToken cancellationToken = default, int? maxActions = null, bool explain = false, IProgress<long>? progress = null, bool provenance = false) =>
        Engine().PlanAsync(paths, asOf, cancellationToken, maxActions, explain, progress, provenance);

    public static Task<RunResult> RunAsync(IReadOnlyList<string> paths, DateTimeOffset asOf, TimeProvider time, CancellationToken cancellationToken = default, int? maxActions = null, RunScope? scope = null, bool createStore = true) =>
        Engine(time).RunAsync(paths, asOf, cancellationToken, maxActions, scope, createStore);

    public static Task<RunResult> ApplyAsync(IReadOnlyList<string> paths, string planFile, TimeProvider time, CancellationToken cancellationToken = default, int? maxActions = null, RunScope? scope = null, bool createStore = true, bool besideDaemons = false) =>
        Engine(time).ApplyAsync(paths, planFile, cancellationToken, maxActions, scope, createStore, besideDaemons);

    public static Task<Core.Testing.TestRunResult> TestAsync(IReadOnlyList<string> paths, CancellationToken cancellationToken = default) =>
        Engine().TestAsync(paths, cancellationToken);

    public static Task<ExplainResult> ExplainAsync(IReadOnlyList<string> paths, string rule, string key, DateTimeOffset asOf, CancellationToken cancellationToken = default) =>
        Engine().ExplainAsync(paths, rule, key, asOf, cancellationToken);

    public static HistoryResult History(IReadOnlyList<string> paths, string? rule, string? key, bool failedOnly, int limit = 1000) =>
        Engine().HistoryAsync(paths, rule, key, failedOnly, limit).GetAwaiter().GetResult();

    public static RequeueResult Requeue(IReadOnlyList<string> paths, string? rule, string? key, TimeProvider time) =>
        Engine(time).RequeueAsync(paths, rule, key).GetAwaiter().GetResult();
}
