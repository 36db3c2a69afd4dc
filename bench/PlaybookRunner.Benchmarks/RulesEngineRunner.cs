using RulesEngine.Models;

namespace PlaybookRunner.Benchmarks;

/// <summary>
/// Microsoft RulesEngine 6.0.1 on the same ten conditions, written in its expression language over the
/// same typed rows (days since contact precomputed: its language has no DateOnly arithmetic).
/// </summary>
internal sealed class RulesEngineRunner
{
    public const string WorkflowName = "bench";

    private static readonly string[] Expressions =
    [
        "c.Key && c.DaysSinceContact > 30",
        "c.DaysSinceContact > 40 && c.TenureMonths > 12",
        "c.Nps == 0 && c.OpenTickets >= 3",
        "c.OpenTickets >= 6",
        "c.Key && c.ChurnRisk > 0.98",
        "c.Enterprise && !c.AutoRenew && c.ChurnRisk > 0.9",
        "c.TenureMonths < 3 && c.DaysSinceContact > 14",
        "c.TotalCharges > 7000 && c.Nps != null && c.Nps < 3",
        "c.Region == \"north\" && c.ChurnRisk > 0.99",
        "c.TenureMonths >= 70 && c.MonthlyCharges > 110",
    ];

    private readonly RulesEngine.RulesEngine _engine;

    public RulesEngineRunner()
    {
        var workflow = new Workflow
        {
            WorkflowName = WorkflowName,
            Rules = [.. Expressions.Select((e, i) => new Rule
            {
                RuleName = BenchWorkspace.Rules[i].Id,
                Expression = e,
                RuleExpressionType = RuleExpressionType.LambdaExpression,
            })],
        };
        _engine = new RulesEngine.RulesEngine([workflow], new ReSettings { CustomTypes = [typeof(Row)] });
    }

    /// <summary>Adds one row's firings to <paramref name="counts"/>.</summary>
    public async Task EvaluateAsync(Row row, int[] counts)
    {
        var results = await _engine.ExecuteAllRulesAsync(WorkflowName, new RuleParameter("c", row));
        for (var i = 0; i < results.Count; i++)
        {
            if (results[i].IsSuccess)
            {
                counts[i]++;
            }
        }
    }

    /// <summary>Reads the file like the floor and evaluates every row with RulesEngine.</summary>
    public static async Task<int[]> RunAsync(string csv, int? limit = null)
    {
        var threshold = HandWritten.Pareto(HandWritten.ReadMonthlyCharges(csv), 0.8);
        var runner = new RulesEngineRunner();
        var counts = new int[Expressions.Length];
        var n = 0;
        foreach (var row in HandWritten.ReadRows(csv))
        {
            if (limit is { } max && n++ >= max)
            {
                break;
            }

            HandWritten.Segment(row, threshold);
            await runner.EvaluateAsync(row, counts);
        }

        return counts;
    }
}
