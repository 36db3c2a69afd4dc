using BenchmarkDotNet.Attributes;
using PlaybookRunner.Core;
using PlaybookRunner.Core.Compilation;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Evaluation;
using PlaybookRunner.Core.Loading;
using PlaybookRunner.Core.Sources;
using PlaybookRunner.Runtime;

namespace PlaybookRunner.Benchmarks;

/// <summary>
/// Evaluation only, records already in memory: the ten rules over every record, per record. The
/// hand-written lambdas are the baseline; allocations are reported per record.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class EvaluationBenchmarks
{
    private const int Records = 100_000;
    private const int RulesEngineRecords = 5_000;

    private CompiledPlaybookUnit _unit = null!;
    private List<GeneratedRecord> _records = null!;
    private List<Row> _rows = null!;
    private Func<Row, bool>[] _conditions = null!;
    private decimal _threshold;
    private RulesEngineRunner _rulesEngine = null!;

    [GlobalSetup]
    public void Setup()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"playbook-bench-{Records}");
        var csv = BenchWorkspace.Write(dir, Records);
        var diagnostics = new DiagnosticBag();
        var prepared = PlaybookEngine.Prepare(WorkspaceLoader.Load([dir], new Core.Model.HostContext(TimeProvider.System, Environment.GetEnvironmentVariable), diagnostics), diagnostics, BenchWorkspace.AsOf, load: true)
            ?? throw new InvalidOperationException(string.Join("\n", diagnostics.Items.Select(d => d.Message)));
        _unit = prepared.Compiled!.Playbooks[0];
        var source = _unit.Definition.Source;
        var factory = prepared.Compiled.RecordFactories[source].Create;
        _records = [.. CsvSource.Read(source, CancellationToken.None).Rows.Select(r => factory(r.Values))];
        _threshold = HandWritten.Pareto(HandWritten.ReadMonthlyCharges(csv), 0.8);
        _rows = [.. HandWritten.ReadRows(csv)];
        _conditions = HandWritten.Conditions();
        _rulesEngine = new RulesEngineRunner();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Records, Description = "hand-written lambdas (let + segments + rules)")]
    public int HandWrittenLambdas()
    {
        // The same work as the playbook: the Pareto let over the population, then segments and rules per record.
        var threshold = HandWritten.Pareto([.. _rows.Select(r => r.MonthlyCharges)], 0.8);
        var fired = 0;
        foreach (var row in _rows)
        {
            HandWritten.Segment(row, threshold);
            foreach (var condition in _conditions)
            {
                if (condition(row))
                {
                    fired++;
                }
            }
        }

        return fired;
    }

    [Benchmark(OperationsPerInvoke = Records, Description = "PlaybookRunner (let + segments + rules)")]
    public int PlaybookRunner() =>
        _unit.Run(_records, _records, BenchWorkspace.AsOf, EmptyHistory.Instance, TimeSpan.FromMinutes(5), null).Findings.Count;

    [Benchmark(OperationsPerInvoke = RulesEngineRecords, Description = "RulesEngine 6.0.1")]
    public async Task<int> RulesEngine()
    {
        var counts = new int[BenchWorkspace.Rules.Length];
        for (var i = 0; i < RulesEngineRecords; i++)
        {
            HandWritten.Segment(_rows[i], _threshold);
            await _rulesEngine.EvaluateAsync(_rows[i], counts);
        }

        return counts.Sum();
    }
}
