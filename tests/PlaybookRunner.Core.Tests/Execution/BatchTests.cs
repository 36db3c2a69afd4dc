using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace PlaybookRunner.Core.Tests.Execution;

/// <summary>
/// How <c>run</c> executes a lane's actions a batch at a time (docs/execution.md, "Batches"), with a real SQLite store,
/// a real HTTP listener and real files: what a stopped batch gives back, a transient failure inside a batch, a file
/// path that changed between plan and run, and a file line of an earlier attempt found rather than written twice.
/// </summary>
public sealed class BatchTests
{
    private static readonly DateTimeOffset Day1 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_run_stopped_mid_batch_gives_back_what_it_did_not_send_with_no_attempt_and_the_next_run_sends_it_once()
    {
        var keys = new ConcurrentQueue<string>();
        using var server = new JsonApiServer(request =>
        {
            keys.Enqueue(request.Headers["Idempotency-Key"] ?? "");
            return (200, "{}", null);
        });
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, 40, "channels:\n  hook: { kind: webhook, url: \"" + server.Url("/hook") + "\", concurrency: 1 }\n",
            "{ type: webhook, channel: hook, body: '{\"id\": \"{{ id }}\"}' }");
        using var stop = new CancellationTokenSource();
        var engine = TestEngine.Engine(new FixedTimeProvider(Day1), new StopAt(5, stop));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => engine.RunAsync([file], Day1, stop.Token));

        // Four were sent and recorded; the fifth was stopped as it started (its attempt stays "started", its claim
        // given back); the other 35 of the batch were never sent: no attempt row, no claim, still pending.
        Assert.Equal([.. Enumerable.Range(0, 4).Select(Key)], keys);
        Assert.Equal(["succeeded"], Outcomes(workspace, Key(0)));
        Assert.Equal(["started"], Outcomes(workspace, Key(4)));
        Assert.All(Enumerable.Range(5, 35), i => Assert.Empty(Outcomes(workspace, Key(i))));
        Assert.Equal("36|0", Scalar(workspace, "SELECT COUNT(*) || '|' || COUNT(lease_owner) FROM actions WHERE state = 'pending'"));

        var next = await TestEngine.RunAsync([file], Day1, new FixedTimeProvider(Day1));
        Assert.True(next.Success, string.Join("\n", next.Diagnostics.Select(d => d.Message)));
        Assert.Equal(40, keys.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(40, keys.Count);
        Assert.Equal(["started", "succeeded"], Outcomes(workspace, Key(4)));
        Assert.Equal(["succeeded"], Outcomes(workspace, Key(39)));
    }

    [Fact]
    public async Task A_transient_failure_inside_a_batch_is_recorded_then_retried_on_its_own_while_the_rest_succeed()
    {
        var seen = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        using var server = new JsonApiServer(request =>
        {
            var key = request.Headers["Idempotency-Key"] ?? "";
            // The third customer's first request fails with 503; every other request succeeds.
            return seen.AddOrUpdate(key, 1, (_, n) => n + 1) == 1 && key == Key(2) ? (503, "{}", null) : (200, "{}", null);
        });
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, 10, "channels:\n  hook: { kind: webhook, url: \"" + server.Url("/hook") + "\" }\nexecution: { max_attempts: 3, backoff_ms: 1 }\n",
            "{ type: webhook, channel: hook, body: '{\"id\": \"{{ id }}\"}' }");

        var run = await TestEngine.RunAsync([file], Day1, new FixedTimeProvider(Day1));
        Assert.True(run.Success, string.Join("\n", run.Diagnostics.Select(d => d.Message)));
        Assert.Equal(10, run.Actions.Count(a => a.Succeeded));
        Assert.Equal(2, run.Actions.Single(a => a.IdempotencyKey == Key(2)).Attempts);
        Assert.Equal(["transient", "succeeded"], Outcomes(workspace, Key(2)));
        Assert.Equal("2", Scalar(workspace, $"SELECT attempts FROM actions WHERE idempotency_key = '{Key(2)}'"));
        Assert.Equal(["succeeded"], Outcomes(workspace, Key(3)));
        Assert.Equal("1", Scalar(workspace, $"SELECT attempts FROM actions WHERE idempotency_key = '{Key(3)}'"));
    }

    [Fact]
    public async Task A_file_path_that_becomes_a_link_out_of_the_workspace_during_the_run_is_refused_and_the_rest_of_the_batch_written()
    {
        using var workspace = new TempWorkspace();
        using var outside = new TempWorkspace();
        var file = Workspace(workspace, 6, "", "{ type: file, path: \"out/{{ team }}/o.jsonl\", body: \"{{ id }}\" }", team: i => i % 2 == 0 ? "even" : "odd");

        // As the first line is about to be written (after the plan and its checks), out/odd becomes a link to a folder outside.
        var engine = TestEngine.Engine(new FixedTimeProvider(Day1), new OnFirstClaim(() =>
        {
            Directory.CreateDirectory(Path.Combine(workspace.Root, "out"));
            Directory.CreateSymbolicLink(Path.Combine(workspace.Root, "out", "odd"), outside.Root);
        }));
        var run = await engine.RunAsync([file], Day1);

        Assert.False(run.Success);
        Assert.Equal([true, false, true, false, true, false], run.Actions.Select(a => a.Succeeded));
        Assert.All(run.Actions.Where(a => !a.Succeeded), a => Assert.Contains("outside the workspace root", a.Message, StringComparison.Ordinal));
        Assert.Empty(Directory.EnumerateFileSystemEntries(outside.Root));
        Assert.Equal(3, File.ReadLines(Path.Combine(workspace.Root, "out", "even", "o.jsonl")).Count());
        Assert.Equal(["permanent"], Outcomes(workspace, Key(1)));
        Assert.Equal(["succeeded"], Outcomes(workspace, Key(2)));
    }

    [Fact]
    public async Task A_file_line_written_by_an_attempt_whose_outcome_was_not_recorded_is_found_not_written_twice()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, 3, "", "{ type: file, path: o.jsonl, body: \"{{ id }}\" }");
        // A run killed after writing C0001's line and before recording it: its line is in the file, its attempt "started".
        var crash = TestEngine.Engine(new FixedTimeProvider(Day1), new CrashAt(Key(0)));
        await Assert.ThrowsAsync<InvalidOperationException>(() => crash.RunAsync([file], Day1));
        var output = Path.Combine(workspace.Root, "o.jsonl");
        Assert.False(File.Exists(output));
        File.WriteAllText(output, $"{{\"playbook\":\"p\",\"rule\":\"r\",\"key\":\"C0001\",\"severity\":\"warning\",\"body\":\"C0001\",\"at\":\"x\",\"id\":\"{Key(1)}\"}}\n");

        var next = await TestEngine.RunAsync([file], Day1, new FixedTimeProvider(Day1));
        Assert.True(next.Success, string.Join("\n", next.Diagnostics.Select(d => d.Message)));
        Assert.Equal(["appended to o.jsonl", "already in o.jsonl", "appended to o.jsonl"], next.Actions.Select(a => a.Message));
        Assert.Equal([Key(1), Key(0), Key(2)], File.ReadLines(output).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("id").GetString()));
    }

    private static string Key(int customer) => $"p/r/C{customer.ToString("D4", CultureInfo.InvariantCulture)}/0/20260302T090000.000Z";

    [Theory]
    [InlineData("{")]
    [InlineData("{\"playbook\":\"p\",\"rule\":\"r\",\"key\":\"C0001\",\"severity\":\"warn")]
    [InlineData("{\"playbook\":\"p\",\"rule\":\"r\",\"key\":\"C0001\",\"severity\":\"warning\",\"body\":\"C0001\",\"at\":\"20260302T090000.000Z\",\"id\":\"p/r/C0001/0/20260302T090000.000Z\"}")]
    public async Task A_line_a_killed_write_cut_short_is_removed_and_written_whole_once(string cut)
    {
        // A process killed inside a write leaves the last line cut (at a page): the next write must not glue its lines to
        // it, and a cut line holding the action's id, its final line break missing, is not taken for the written line.
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, 3, "", "{ type: file, path: out.jsonl, body: \"{{ id }}\" }");
        var earlier = "{\"playbook\":\"old\",\"rule\":\"r\",\"key\":\"X\",\"severity\":\"info\",\"body\":\"x\",\"at\":\"20260301T090000.000Z\",\"id\":\"old\"}\n";
        workspace.Write("out.jsonl", earlier + cut);

        var run = await TestEngine.RunAsync([file], Day1, new FixedTimeProvider(Day1));

        Assert.True(run.Success, string.Join("\n", run.Diagnostics.Select(d => d.Message)));
        var lines = File.ReadAllText(Path.Combine(workspace.Root, "out.jsonl"));
        Assert.EndsWith("\n", lines, StringComparison.Ordinal);
        var ids = lines.TrimEnd('\n').Split('\n').Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("id").GetString()).ToList();
        Assert.Equal(["old", Key(0), Key(1), Key(2)], ids);
    }

    [Fact]
    public async Task A_file_of_other_text_without_a_final_line_break_keeps_it_and_gets_the_lines_on_lines_of_their_own()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, 2, "", "{ type: file, path: out.jsonl, body: \"{{ id }}\" }");
        workspace.Write("out.jsonl", "# customers to call, kept by hand");

        var run = await TestEngine.RunAsync([file], Day1, new FixedTimeProvider(Day1));

        Assert.True(run.Success, string.Join("\n", run.Diagnostics.Select(d => d.Message)));
        var lines = File.ReadAllLines(Path.Combine(workspace.Root, "out.jsonl"));
        Assert.Equal("# customers to call, kept by hand", lines[0]);
        Assert.Equal([Key(0), Key(1)], lines[1..].Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("id").GetString()));
    }

    private static string Workspace(TempWorkspace workspace, int customers, string runner, string action, Func<int, string>? team = null)
    {
        team ??= _ => "all";
        workspace.Write("customers.csv", "id,team\n" + string.Concat(Enumerable.Range(0, customers).Select(i => $"C{i.ToString("D4", CultureInfo.InvariantCulture)},{team(i)}\n")));
        workspace.Write("runner.yaml", "sources:\n  crm: { kind: csv, path: customers.csv, key: id, fields: { id: string, team: string } }\n" + runner);
        return workspace.Write("p.yaml", $"""
            playbook: p
            source: crm
            rules:
              - id: r
                when: "true"
                actions:
                  - {action}
            """);
    }

    private static string Db(TempWorkspace workspace) => Path.Combine(workspace.Root, "playbook-state.db");

    private static List<string> Outcomes(TempWorkspace workspace, string key)
    {
        using var store = Core.Execution.SqliteStateStore.OpenReadOnly(Db(workspace), TimeProvider.System);
        return [.. store.Attempts(key).Select(a => a.Outcome)];
    }

    private static string Scalar(TempWorkspace workspace, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={Db(workspace)};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToString(command.ExecuteScalar(), CultureInfo.InvariantCulture) ?? "";
    }

    /// <summary>Cancels the run as its Nth action is about to be sent.</summary>
    private sealed class StopAt(int n, CancellationTokenSource stop) : Core.Execution.IExecutionObserver
    {
        private int _claims;

        public void Claimed(string idempotencyKey)
        {
            if (Interlocked.Increment(ref _claims) == n)
            {
                stop.Cancel();
            }
        }
    }

    /// <summary>Does something once, as the first action is about to be sent.</summary>
    private sealed class OnFirstClaim(Action act) : Core.Execution.IExecutionObserver
    {
        private int _claims;

        public void Claimed(string idempotencyKey)
        {
            if (Interlocked.Increment(ref _claims) == 1)
            {
                act();
            }
        }
    }

    /// <summary>Simulates a crash right before the named action is sent.</summary>
    private sealed class CrashAt(string key) : Core.Execution.IExecutionObserver
    {
        public void Claimed(string idempotencyKey)
        {
            if (idempotencyKey == key)
            {
                throw new InvalidOperationException("simulated crash before " + idempotencyKey);
            }
        }
    }
}
