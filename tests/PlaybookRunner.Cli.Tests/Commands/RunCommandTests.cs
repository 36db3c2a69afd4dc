namespace PlaybookRunner.Cli.Tests.Commands;

public sealed class RunCommandTests
{
    [Fact]
    public void Run_executes_records_and_history_lists_with_exit_codes()
    {
        using var dir = new TempDir();
        dir.Write("d.csv", "id,n\nA,5\nB,1\n");
        dir.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }\nrules:\n  - { id: r, when: n > 3, cooldown: 1d, actions: [ { type: file, path: out.jsonl, body: \"{{ id }}\" } ] }\n");
        var (code, stdout, stderr) = CliRunner.Run("run", "--create-store", dir.Root, "--as-of", "2026-03-02T09:00:00Z");
        Assert.Equal((0, ""), (code, stderr));
        Assert.Equal(
            "ok   p/r A file: appended to out.jsonl\nRun as of 2026-03-02T09:00:00+00:00: 1 actions succeeded, 0 failed, 0 suppressed, 0 held back, 0 errors\n",
            stdout.ReplaceLineEndings("\n"));

        var again = CliRunner.Run("run", dir.Root, "--as-of", "2026-03-02T10:00:00Z");
        Assert.Equal(0, again.ExitCode);
        Assert.EndsWith("0 actions succeeded, 0 failed, 0 suppressed, 1 held back, 0 errors\n", again.Out.ReplaceLineEndings("\n"), StringComparison.Ordinal);

        var history = CliRunner.Run("history", dir.Root);
        Assert.Equal(0, history.ExitCode);
        Assert.Equal("2026-03-02T09:00:00+00:00  succeeded  p/r  A  #0 file  attempts 1\n", history.Out.ReplaceLineEndings("\n"));
        Assert.Equal("No recorded actions match.\n", CliRunner.Run("history", dir.Root, "--failed").Out.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Run_without_a_store_refuses_with_PB5013_and_creates_it_only_with_create_store()
    {
        using var dir = new TempDir();
        dir.Write("d.csv", "id,n\nA,5\n");
        dir.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }\nrules:\n  - { id: r, when: n > 3, cooldown: 30d, actions: [ { type: file, path: out.jsonl, body: \"{{ id }}\" } ] }\n");
        var db = Path.Combine(dir.Root, "playbook-state.db");

        var refused = CliRunner.Run("run", dir.Root, "--as-of", "2026-03-02T09:00:00Z");
        Assert.Equal((1, ""), (refused.ExitCode, refused.Out));
        Assert.Contains($"error PB5013: The state store {db} does not exist (or is empty); nothing was run: without its history every customer would be contacted again as if for the first time", refused.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(db));
        Assert.False(File.Exists(Path.Combine(dir.Root, "out.jsonl")));

        Assert.Equal(0, CliRunner.Run("run", "--create-store", dir.Root, "--as-of", "2026-03-02T09:00:00Z").ExitCode);
        File.Delete(db);
        var lost = CliRunner.Run("run", dir.Root, "--as-of", "2026-03-03T09:00:00Z");
        Assert.Equal(1, lost.ExitCode);
        Assert.Contains("error PB5013", lost.Err, StringComparison.Ordinal);
        Assert.Single(File.ReadAllLines(Path.Combine(dir.Root, "out.jsonl")));
    }

    [Fact]
    public void A_transient_failure_shows_as_wait_exits_one_and_is_retried_by_a_later_run()
    {
        var down = true;
        using var server = new JsonApiServer(_ => (Volatile.Read(ref down) ? 503 : 200, "{}", null));
        using var dir = new TempDir();
        dir.Write("d.csv", "id\nA\n");
        dir.Write("p.yaml", $"playbook: p\nsource: {{ kind: csv, path: d.csv, key: id, fields: {{ id: string }} }}\nrules:\n  - {{ id: r, when: \"true\", cooldown: 30d, actions: [ {{ type: webhook, url: \"{server.Url("/hook")}\", body: \"{{}}\" }} ] }}\n");
        dir.Write("runner.yaml", "execution: { max_attempts: 2, backoff_ms: 1 }\n");

        var (code, stdout, stderr) = CliRunner.Run("run", "--create-store", dir.Root, "--as-of", "2026-03-02T09:00:00Z");
        Assert.Equal(1, code);
        Assert.StartsWith("WAIT p/r A webhook: ", stdout, StringComparison.Ordinal);
        Assert.Contains("0 actions succeeded, 0 failed, 1 to retry, ", stdout, StringComparison.Ordinal);
        Assert.Contains("warning PB5015: p/r webhook action for key 'A' failed transiently: ", stderr, StringComparison.Ordinal);
        var history = CliRunner.Run("history", dir.Root).Out;
        Assert.Contains("pending    p/r  A  #0 webhook  attempts 2  retry at ", history, StringComparison.Ordinal);
        Assert.Contains("HTTP 503", history, StringComparison.Ordinal);

        // Before its retry time (30 s on) a run leaves it, says when it is due, and exits 1: it is not delivered yet.
        var early = CliRunner.Run("run", dir.Root, "--as-of", "2026-03-02T09:00:00Z");
        Assert.Equal(1, early.ExitCode);
        Assert.Contains("1 action(s) wait to be retried after a transient failure; the next from ", early.Out, StringComparison.Ordinal);

        // Once its retry time has come (set back here, as if the 30 s had passed): delivered, with the key it had.
        Volatile.Write(ref down, false);
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dir.Root, "playbook-state.db")};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE actions SET retry_at = '2000-01-01T00:00:00.0000000Z'";
            command.ExecuteNonQuery();
        }

        var later = CliRunner.Run("run", dir.Root, "--as-of", "2026-03-02T09:00:00Z");
        Assert.Equal(0, later.ExitCode);
        Assert.StartsWith("ok   p/r A webhook", later.Out, StringComparison.Ordinal);
        Assert.Contains("(recovered)", later.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_exits_three_and_runs_nothing_while_another_runner_holds_the_store()
    {
        using var dir = new TempDir();
        dir.Write("d.csv", "id,n\nA,5\n");
        dir.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }\nrules:\n  - { id: r, when: n > 3, actions: [ { type: file, path: out.jsonl, body: \"{{ id }}\" } ] }\n");
        var clock = new FixedTimeProvider(new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero));
        using (var store = Core.Execution.SqliteStateStore.OpenForWrite(Path.Combine(dir.Root, "playbook-state.db"), clock, TimeSpan.FromMinutes(5)))
        {
            store.Heartbeat("daemon:elsewhere:42:abcd1234", "daemon");
        }

        var (code, stdout, stderr) = CliRunner.Run("run", "--create-store", dir.Root, "--as-of", "2026-03-02T09:00:00Z");

        Assert.Equal(3, code);
        Assert.Contains("error PB5012: Another runner is executing against the state store: a daemon (daemon:elsewhere:42:abcd1234, since 2026-03-02T09:00:00+00:00); nothing was run (exit code 3)", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Run as of", stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir.Root, "out.jsonl")));
    }

    [Fact]
    public void A_failed_action_makes_run_exit_one_and_shows_in_history_failed()
    {
        using var dir = new TempDir();
        dir.Write("d.csv", "id\nA\n");
        dir.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: \"true\", actions: [ { type: webhook, url: \"http://127.0.0.1:1/none\", body: \"{}\" } ] }\n");
        dir.Write("runner.yaml", "execution: { max_attempts: 2, backoff_ms: 1, timeout_seconds: 5, retry_horizon_minutes: 0 }\n");
        var (code, stdout, stderr) = CliRunner.Run("run", "--create-store", dir.Root, "--as-of", "2026-03-02T09:00:00Z");
        Assert.Equal(1, code);
        Assert.StartsWith("FAIL p/r A webhook: http://127.0.0.1:1/none: ", stdout, StringComparison.Ordinal);
        Assert.Contains("(gave up after 2 attempts)", stdout, StringComparison.Ordinal);
        Assert.Contains("error PB5004: p/r webhook action for key 'A' failed:", stderr, StringComparison.Ordinal);
        var history = CliRunner.Run("history", dir.Root, "--failed");
        Assert.StartsWith("2026-03-02T09:00:00+00:00  dead       p/r  A  #0 webhook  attempts 2  http://127.0.0.1:1/none:", history.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Max_actions_makes_plan_warn_and_run_execute_nothing()
    {
        using var dir = new TempDir();
        dir.Write("d.csv", "id,n\nA,5\nB,6\nC,1\n");
        var playbook = dir.Write("p.yaml", "playbook: p\nmax_actions: 1\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }\nrules:\n  - { id: r, when: n > 3, actions: [ { type: file, path: out.jsonl, body: \"{{ id }}\" } ] }\n");
        var shown = TempDir.Display(playbook);

        var plan = CliRunner.Run("plan", dir.Root, "--as-of", "2026-03-02T09:00:00Z");
        Assert.Equal(0, plan.ExitCode);
        Assert.Contains($"{shown}(2,14): warning PB5005: Playbook 'p' would execute 2 actions, more than its max_actions of 1", plan.Out, StringComparison.Ordinal);

        var run = CliRunner.Run("run", "--create-store", dir.Root, "--as-of", "2026-03-02T09:00:00Z");
        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"{shown}(2,14): error PB5006: Playbook 'p' would execute 2 actions, more than its max_actions of 1; nothing was executed\n", run.Err.ReplaceLineEndings("\n"));
        Assert.False(File.Exists(Path.Combine(dir.Root, "out.jsonl")));
        Assert.Equal("No recorded actions match.\n", CliRunner.Run("history", dir.Root).Out.ReplaceLineEndings("\n"));

        File.WriteAllText(playbook, File.ReadAllText(playbook).Replace("max_actions: 1", "max_actions: 5", StringComparison.Ordinal));
        var limited = CliRunner.Run("run", "--create-store", dir.Root, "--as-of", "2026-03-02T09:00:00Z", "--max-actions", "1");
        Assert.Equal(1, limited.ExitCode);
        Assert.Equal("playbook: error PB5006: The plan would execute 2 actions, more than --max-actions 1; nothing was executed\n", limited.Err.ReplaceLineEndings("\n"));

        Assert.Equal(0, CliRunner.Run("run", "--create-store", dir.Root, "--as-of", "2026-03-02T09:00:00Z", "--max-actions", "2").ExitCode);
        Assert.Equal("A\nB\n", string.Concat(File.ReadAllLines(Path.Combine(dir.Root, "out.jsonl")).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("body").GetString() + "\n")));
        Assert.Equal(2, CliRunner.Run("plan", dir.Root, "--max-actions", "-1").ExitCode);
    }
}
