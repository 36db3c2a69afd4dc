using System.Diagnostics;

namespace PlaybookRunner.Core.Tests.Reliability;

/// <summary>
/// Conditions that run away inside one record are stopped in process: every lambda body checks the time
/// budget and the per-record memory limit, regular expressions time out, and unbounded generators,
/// delegate calls (recursion) and huge arrays do not compile (Cases/007-escapes). The plan names the rule
/// and the key, and the other playbooks still run.
/// </summary>
public sealed class RunawayTests
{
    private static readonly DateTimeOffset AsOf = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private static (Core.Planning.Plan Plan, TimeSpan Elapsed) Plan(TempWorkspace workspace, string when, int budgetMs = 1000)
    {
        workspace.Write("d.csv", "id,n,name\nA,1,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\nB,2,bolt\n");
        workspace.Write("runner.yaml", $"execution: {{ evaluation_budget_ms: {budgetMs} }}\n");
        workspace.Write("p.yaml", $"playbook: p\nsource: {{ kind: csv, path: d.csv, key: id, fields: {{ id: string, n: int, name: string }} }}\nrules:\n  - {{ id: fine, when: n > 1 }}\n  - id: runaway\n    when: '{when.Replace("'", "''", StringComparison.Ordinal)}'\n");
        workspace.Write("q.yaml", "playbook: q\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int, name: string } }\nrules:\n  - { id: other, when: n > 0 }\n");
        var clock = Stopwatch.StartNew();
        var result = TestEngine.Plan([workspace.Root], AsOf);
        return (result.Plan ?? throw new InvalidOperationException(string.Join("\n", result.Diagnostics.Select(d => d.Message))), clock.Elapsed);
    }

    [Fact]
    public void A_huge_nested_iteration_is_stopped_within_the_budget_and_names_the_rule_and_key()
    {
        using var workspace = new TempWorkspace();
        // 3 s, not 1: playbook q, evaluated after the runaway, has the same budget. On a loaded CI machine (every test
        // project side by side) its reading thread could start seconds late, which made a second, spurious PB5003 "at
        // key 'A', in between records"; waiting for the source is no longer counted (the test below), and 3 s leaves
        // room for the evaluating thread itself being descheduled.
        var (plan, elapsed) = Plan(workspace, "Enumerable.Range(0, 100000).SelectMany(i => Enumerable.Range(0, 100000)).Count(j => j < 0) > 0", budgetMs: 3000);
        var error = Assert.Single(plan.Errors);
        Assert.Equal(("PB5003", "p", "runaway", "A"), (error.Id, error.Playbook, error.Rule, error.Key));
        Assert.Equal("Evaluation of playbook 'p' exceeded its time budget of 3000 ms at key 'A', in rule 'runaway'; stopped", error.Message);
        Assert.True(elapsed < TimeSpan.FromSeconds(30), $"took {elapsed}");
        Assert.Equal(["q/other A", "q/other B"], plan.Findings.Select(f => $"{f.Playbook}/{f.Rule} {f.Key}"));
    }

    [Fact]
    public async Task Waiting_for_a_slow_data_file_does_not_use_up_the_conditions_time_budget()
    {
        // The data file is a named pipe whose rows come 0.8 s apart, the budget is 300 ms and the conditions take
        // microseconds: the budget counts the conditions, not the time the evaluation waits for its source (on a
        // loaded machine, a reader thread that starts late). One reading pass only: a let's first pass and a second
        // writer could race on the pipe (the second writer connects to the first reader before it has closed).
        using var workspace = new TempWorkspace();
        workspace.Write("runner.yaml", "execution: { evaluation_budget_ms: 300 }\n");
        workspace.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }\nrules:\n  - { id: r, when: n > 0 }\n");
        var csv = Path.Combine(workspace.Root, "d.csv");
        using (var mkfifo = Process.Start("mkfifo", [csv]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        async Task Write()
        {
            // Opening a pipe for writing waits for its reader.
            await using var pipe = new StreamWriter(new FileStream(csv, FileMode.Open, FileAccess.Write));
            await pipe.WriteAsync("id,n\n");
            foreach (var row in new[] { "A,1", "B,2", "C,3" })
            {
                await pipe.WriteAsync(row + "\n");
                await pipe.FlushAsync();
                await Task.Delay(800);
            }
        }

        var writer = Task.Run(Write);
        var result = await TestEngine.PlanAsync([workspace.Root], AsOf);
        await writer.WaitAsync(TimeSpan.FromSeconds(60));

        var plan = result.Plan ?? throw new InvalidOperationException(string.Join("\n", result.Diagnostics.Select(d => d.Message)));

        Assert.Empty(plan.Errors);
        Assert.Equal(["A", "B", "C"], plan.Findings.Select(f => f.Key));
    }

    [Fact]
    public void A_let_that_allocates_without_bound_is_stopped_at_its_allowance_which_grows_with_the_population()
    {
        // A let reads the whole population, so it may allocate 256 bytes per record more than a record's 512 MB
        // (a Pareto over 10,000,000 customers allocates about 2 GB of record views); one that builds a huge list is still stopped.
        using var workspace = new TempWorkspace();
        workspace.Write("d.csv", "id,n,name\nA,1,a\nB,2,b\n");
        workspace.Write("runner.yaml", "execution: { evaluation_budget_ms: 120000 }\n");
        workspace.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int, name: string } }\nlet:\n  big: Count(c => Enumerable.Range(0, 100000).SelectMany(i => Enumerable.Repeat(c.name, 100000)).ToList().Count > 0)\nrules:\n  - { id: r, when: n > big }\n");

        var plan = TestEngine.Plan([workspace.Root], AsOf).Plan!;

        var error = Assert.Single(plan.Errors);
        Assert.Equal(("PB5007", "p"), (error.Id, error.Playbook));
        Assert.Equal("Evaluation of playbook 'p' allocated more than 512 MB for key '', in let 'big'; stopped", error.Message);
    }

    [Fact]
    public void Rendering_many_findings_does_not_use_up_the_conditions_time_budget()
    {
        // Each finding renders a template that loops: together far more than the 300 ms budget, while the
        // conditions take a few milliseconds. Findings are rendered as they fire, inside the evaluation, and the
        // budget counts the conditions only (docs/performance.md, "Findings are not held").
        using var workspace = new TempWorkspace();
        workspace.Write("d.csv", "id,n\n" + string.Concat(Enumerable.Range(0, 3000).Select(i => $"R{i:D4},{i}\n")));
        workspace.Write("runner.yaml", "execution: { evaluation_budget_ms: 300 }\n");
        workspace.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }\nrules:\n  - id: all\n    when: \"true\"\n    message: \"{{ for i in 1..900 }}{{ i + n }},{{ end }}\"\n");
        var clock = Stopwatch.StartNew();

        var plan = TestEngine.Plan([workspace.Root], AsOf).Plan!;

        Assert.Empty(plan.Errors);
        Assert.Equal(3000, plan.Findings.Count);
        Assert.True(clock.Elapsed > TimeSpan.FromMilliseconds(300), $"rendering took only {clock.Elapsed}: the test no longer shows anything");
    }

    [Fact]
    public void Out_of_memory_without_a_heap_limit_is_an_error_of_that_rule_and_key_only()
    {
        // The second Replace would be 8 * 10^9 characters: string.Replace refuses with OutOfMemoryException
        // before allocating. In a process without a hard heap limit (not the daemon's worker) that is
        // an ordinary error of the record, and the evaluation goes on.
        using var workspace = new TempWorkspace();
        var (plan, _) = Plan(workspace, "id.PadLeft(2000, (char)120).Replace(\"x\", id.PadLeft(2000, (char)120)).Replace(\"x\", id.PadLeft(2000, (char)120)).Length > 0", budgetMs: 20_000);
        Assert.Equal(
            [("PB5001", "runaway", "A"), ("PB5001", "runaway", "B")],
            plan.Errors.Select(e => (e.Id, e.Rule!, e.Key!)));
        Assert.Contains("OutOfMemoryException", plan.Errors[0].Message, StringComparison.Ordinal);
        Assert.Equal(["p/fine B", "q/other A", "q/other B"], plan.Findings.Select(f => $"{f.Playbook}/{f.Rule} {f.Key}"));
    }

    [Fact]
    public void Records_that_are_slow_without_any_lambda_still_stop_at_the_budget()
    {
        // No lambda, so no guard: each record costs tens of milliseconds of string building, and 400 of
        // them would take many seconds. The per-record look at the clock stops the evaluation at 300 ms.
        using var workspace = new TempWorkspace();
        var big = new string('a', 3000);
        workspace.Write("d.csv", "id,name\n" + string.Concat(Enumerable.Range(0, 400).Select(i => $"R{i:D3},{big}\n")));
        workspace.Write("runner.yaml", "execution: { evaluation_budget_ms: 300 }\n");
        workspace.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string, name: string } }\nrules:\n  - { id: slow, when: 'name.Replace(\"a\", name).Replace(\"a\", \"aa\").Length < 0' }\n");
        var clock = Stopwatch.StartNew();
        var plan = TestEngine.Plan([workspace.Root], AsOf).Plan!;
        var error = Assert.Single(plan.Errors);
        Assert.Equal(("PB5003", "p"), (error.Id, error.Playbook));
        Assert.StartsWith("Evaluation of playbook 'p' exceeded its time budget of 300 ms at key 'R", error.Message, StringComparison.Ordinal);
        // Stopped within a few records of the budget, not at a periodic check hundreds of records later
        // (on a loaded machine the budget may already be spent at the first record).
        Assert.InRange(int.Parse(error.Key![1..], System.Globalization.CultureInfo.InvariantCulture), 0, 100);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public void An_expression_that_allocates_without_bound_is_stopped_at_the_memory_limit()
    {
        using var workspace = new TempWorkspace();
        // A generous time budget, so that the memory limit is what stops it even on a busy machine.
        var (plan, _) = Plan(workspace, "Enumerable.Range(0, 100000).SelectMany(i => Enumerable.Repeat(name, 100000)).ToList().Count > 0", budgetMs: 120_000);
        var error = Assert.Single(plan.Errors);
        Assert.Equal(("PB5007", "runaway", "A"), (error.Id, error.Rule, error.Key));
        Assert.Equal("Evaluation of playbook 'p' allocated more than 512 MB for key 'A', in rule 'runaway'; stopped", error.Message);
    }

    [Fact]
    public void A_pathological_regex_times_out_for_its_record_and_the_others_still_evaluate()
    {
        using var workspace = new TempWorkspace();
        // The 250 ms match timeout is what this tests; a budget far above it keeps a loaded machine from spending it first.
        var (plan, _) = Plan(workspace, "Regex.IsMatch(name, \"^(a+)+$\") || n == 2", budgetMs: 30_000);
        var error = Assert.Single(plan.Errors);
        Assert.Equal(("PB5001", "runaway", "A"), (error.Id, error.Rule, error.Key));
        Assert.Contains("RegexMatchTimeoutException", error.Message, StringComparison.Ordinal);
        Assert.Equal(["p/fine B", "p/runaway B", "q/other A", "q/other B"], plan.Findings.Select(f => $"{f.Playbook}/{f.Rule} {f.Key}"));
    }

    [Fact]
    public void A_lambda_whose_guard_does_not_compile_is_an_error_not_a_workspace_without_guards()
    {
        using var workspace = new TempWorkspace();
        // (x, null) has no type of its own: __G((x, null)) cannot compile. Running it unguarded would take
        // every rule of the workspace out of the budget, so it is an error that says how to fix it.
        var error = Assert.Throws<InvalidOperationException>(() => Plan(workspace, "new[] { 1 }.Select<int, (int, string?)>(x => (x, null)).Count() == 1"));
        Assert.StartsWith("The evaluation budget cannot be checked in this lambda: the type of its result comes only from its context", error.Message, StringComparison.Ordinal);

        // A budget far above the work: this is about the guard compiling, and a loaded machine must not spend a short one first.
        var (plan, _) = Plan(workspace, "new[] { 1 }.Select<int, (int, string?)>(x => (x, (string?)null)).Count() == 1", budgetMs: 30_000);
        Assert.Empty(plan.Errors);
        Assert.Contains(plan.Findings, f => f.Rule == "runaway" && f.Key == "A");
    }
}
