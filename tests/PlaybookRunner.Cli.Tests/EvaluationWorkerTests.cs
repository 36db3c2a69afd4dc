using System.Diagnostics;
using Microsoft.Extensions.Logging;
using PlaybookRunner.Cli.Tests.Commands;
using PlaybookRunner.Core;
using PlaybookRunner.Hosting;
using SchedulingDaemon = PlaybookRunner.Hosting.Daemon;

namespace PlaybookRunner.Cli.Tests;

/// <summary>
/// The daemon's evaluation worker, through the real built program (<c>dotnet playbook.dll __evaluate</c>):
/// what it evaluates, and how the daemon survives a worker that allocates without bound or never answers.
/// </summary>
public sealed class EvaluationWorkerTests
{
    private static readonly DateTimeOffset DueAt = new(2026, 3, 2, 8, 0, 0, TimeSpan.Zero);

    private static WorkerCommand Worker => new("dotnet", [Path.Combine(AppContext.BaseDirectory, "playbook.dll"), "__evaluate"]);

    private static void Workspace(TempDir dir, string when = "tickets > 3", string execution = "")
    {
        dir.Write("customers.csv", "id,tickets\nA,5\nB,1\nC,7\n");
        dir.Write("runner.yaml", $$"""
            sources:
              crm: { kind: csv, path: customers.csv, key: id, fields: { id: string, tickets: int } }
            {{execution}}
            """);
        dir.Write("p.yaml", $$$"""
            playbook: p
            source: crm
            schedule: "0 * * * *"
            rules:
              - id: busy
                when: {{{when}}}
                actions:
                  - { type: file, path: out.jsonl, body: "{{ id }}" }
            """);
    }

    private static SchedulingDaemon Start(TempDir dir, ListLogger logger)
    {
        var daemon = new SchedulingDaemon([dir.Root], TestEngine.Options(new FixedTimeProvider(DueAt)), logger, DaemonOptions.Default with { Worker = Worker });
        Assert.True(daemon.Start(), string.Join('\n', logger.Lines.Select(l => l.Message)));
        return daemon;
    }

    private static async Task Tick(SchedulingDaemon daemon, DateTimeOffset dueAt)
    {
        foreach (var unit in daemon.Current!.Units)
        {
            Assert.True(await daemon.RunTickAsync(unit, dueAt, CancellationToken.None));
        }
    }

    private static List<string> Fired(TempDir dir) =>
        [.. TestEngine.History([dir.Root], null, null, failedOnly: false).Entries.Select(e => $"{e.Rule} {e.Key}").Order(StringComparer.Ordinal)];

    private static string Log(ListLogger logger) => string.Join('\n', logger.Lines.Select(l => $"{l.Level}: {l.Message}"));

    [Fact]
    public async Task A_tick_in_the_worker_records_what_fired_and_the_worker_evaluates_the_version_the_daemon_runs()
    {
        using var dir = new TempDir();
        Workspace(dir);
        var logger = new ListLogger();
        using var daemon = Start(dir, logger);
        // A valid edit the daemon has not reloaded yet: the worker still evaluates the loaded version (tickets > 3).
        dir.Write("p.yaml", File.ReadAllText(Path.Combine(dir.Root, "p.yaml")).Replace("tickets > 3", "tickets > 6", StringComparison.Ordinal));

        await Tick(daemon, DueAt);

        Assert.Equal(["busy A", "busy C"], Fired(dir));
        Assert.Contains(logger.Lines, l => l.Level == LogLevel.Information && l.Message.Contains("Evaluated p (0 * * * *) as of 2026-03-02T08:00:00.0000000+00:00: 2 findings, 2 actions recorded, 0 errors", StringComparison.Ordinal));
        Assert.DoesNotContain(logger.Lines, l => l.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task A_large_answer_is_read_a_finding_at_a_time_spilled_past_the_limit_and_every_finding_is_recorded()
    {
        using var dir = new TempDir();
        using var spill = new TempDir();
        Workspace(dir);
        dir.Write("customers.csv", "id,tickets\n" + string.Concat(Enumerable.Range(0, 400).Select(i => $"C{i:D4},{i % 10}\n")));
        var logger = new ListLogger();
        var engine = TestEngine.Options(new FixedTimeProvider(DueAt)) with { FindingsInMemory = 10, SpillFolder = spill.Root };
        using var daemon = new SchedulingDaemon([dir.Root], engine, logger, DaemonOptions.Default with { Worker = Worker });
        Assert.True(daemon.Start(), Log(logger));

        await Tick(daemon, DueAt);

        // tickets 4..9 of every ten customers: 240 findings, far past the 10 the daemon holds.
        Assert.Equal(240, Fired(dir).Count);
        Assert.Contains(logger.Lines, l => l.Message.Contains("240 findings, 240 actions recorded, 0 errors", StringComparison.Ordinal));
        Assert.DoesNotContain(logger.Lines, l => l.Level >= LogLevel.Warning);
        Assert.Empty(Directory.EnumerateFileSystemEntries(spill.Root));
    }

    [Theory]
    [InlineData(0, "could not be given a file for its answer in ")]
    [InlineData(10, "answered, but its findings could not be spilled to ")]
    public async Task A_spill_folder_the_daemon_cannot_write_is_a_diagnostic_and_nothing_is_recorded(int inMemory, string expected)
    {
        using var dir = new TempDir();
        Workspace(dir);
        dir.Write("customers.csv", "id,tickets\n" + string.Concat(Enumerable.Range(0, 40).Select(i => $"C{i:D4},9\n")));
        var missing = Path.Combine(dir.Root, "no-such-folder");
        var logger = new ListLogger();
        // With 0 the answer file itself cannot be made; with 10 the answer is stored in a folder removed before it is read.
        var engine = TestEngine.Options(new FixedTimeProvider(DueAt)) with { FindingsInMemory = inMemory, SpillFolder = inMemory == 0 ? missing : dir.Root };
        var worker = inMemory == 0 ? Worker : new WorkerCommand("sh", ["-c", "rm -rf \"$0\"; exec dotnet \"$1\" __evaluate", Path.Combine(dir.Root, "gone"), Path.Combine(AppContext.BaseDirectory, "playbook.dll")]);
        if (inMemory != 0)
        {
            Directory.CreateDirectory(Path.Combine(dir.Root, "gone"));
            engine = engine with { SpillFolder = Path.Combine(dir.Root, "gone") };
        }

        using var daemon = new SchedulingDaemon([dir.Root], engine, logger, DaemonOptions.Default with { Worker = worker });
        Assert.True(daemon.Start(), Log(logger));

        await Tick(daemon, DueAt);

        Assert.Empty(Fired(dir));
        Assert.Contains(logger.Lines, l => l.Level == LogLevel.Error && l.Message.Contains($"error PB5008: Evaluation worker of playbook 'p' {expected}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_broken_edit_keeps_the_last_good_version_running_in_the_worker()
    {
        using var dir = new TempDir();
        Workspace(dir);
        var logger = new ListLogger();
        using var daemon = Start(dir, logger);
        dir.Write("p.yaml", File.ReadAllText(Path.Combine(dir.Root, "p.yaml")).Replace("tickets > 3", "tickets >", StringComparison.Ordinal));
        Assert.True(daemon.Reload(DueAt));
        Assert.NotEmpty(daemon.RejectedDiagnostics);

        await Tick(daemon, DueAt);

        Assert.Equal(["busy A", "busy C"], Fired(dir));
    }

    [Fact]
    public async Task One_allowed_call_that_allocates_without_bound_is_stopped_at_the_worker_heap_limit_with_rule_and_key()
    {
        using var dir = new TempDir();
        // Each Replace multiplies the length by 32, inside one call and without a lambda: 2 GB at the sixth.
        var x32 = new string('x', 32);
        Workspace(dir, $"(\"x\" + id).Replace(\"x\", \"{x32}\").Replace(\"x\", \"{x32}\").Replace(\"x\", \"{x32}\").Replace(\"x\", \"{x32}\").Replace(\"x\", \"{x32}\").Replace(\"x\", \"{x32}\").Length > 0",
            "execution: { worker_memory_mb: 256 }");
        var logger = new ListLogger();
        using var daemon = Start(dir, logger);

        await Tick(daemon, DueAt);
        await Tick(daemon, DueAt.AddHours(1));

        Assert.Empty(Fired(dir));
        Assert.Equal(2, logger.Lines.Count(l => l.Level == LogLevel.Error && l.Message.Contains("PB5007: Evaluation of playbook 'p' allocated more than 256 MB for key 'A', in rule 'busy'; stopped", StringComparison.Ordinal)));
        Assert.Equal(new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero), Assert.Single(daemon.Schedules()).Last!.DueAt);
        Assert.Equal(TickResult.Errors, daemon.Schedules()[0].Last!.Result);
    }

    [Fact]
    public async Task A_worker_that_does_not_answer_in_time_is_killed_and_the_next_tick_runs()
    {
        using var dir = new TempDir();
        Workspace(dir, execution: "execution: { worker_timeout_seconds: 3 }");
        var logger = new ListLogger();
        using var daemon = Start(dir, logger);
        // The data file becomes a named pipe nobody writes to: the worker blocks opening it, inside the operating system.
        var csv = Path.Combine(dir.Root, "customers.csv");
        File.Move(csv, csv + ".kept");
        using (var mkfifo = Process.Start("mkfifo", [csv]))
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        var clock = Stopwatch.StartNew();
        await Tick(daemon, DueAt);
        var elapsed = clock.Elapsed;
        File.Delete(csv);
        File.Move(csv + ".kept", csv);
        // The next tick gets time enough on a loaded machine (a worker starts, compiles and reads in it).
        dir.Write("runner.yaml", File.ReadAllText(Path.Combine(dir.Root, "runner.yaml")).Replace("worker_timeout_seconds: 3", "worker_timeout_seconds: 120", StringComparison.Ordinal));
        Assert.True(daemon.Reload(DueAt));
        Assert.Empty(daemon.RejectedDiagnostics);
        await Tick(daemon, DueAt.AddHours(1));

        Assert.InRange(elapsed.TotalSeconds, 3, 30);
        Assert.Contains(logger.Lines, l => l.Level == LogLevel.Error && l.Message.Contains("error PB5008: Evaluation worker of playbook 'p' did not finish within 3 s (execution: worker_timeout_seconds) and was killed; nothing was recorded for this tick", StringComparison.Ordinal));
        Assert.Equal(["busy A", "busy C"], Fired(dir));
        Assert.Equal(TickResult.Ok, Assert.Single(daemon.Schedules()).Last!.Result);
        Assert.DoesNotContain(Process.GetProcesses(), p => IsWorkerOf(p, dir.Root));
    }

    [Fact]
    public async Task A_worker_that_cannot_start_is_a_diagnostic_and_the_daemon_goes_on()
    {
        using var dir = new TempDir();
        Workspace(dir);
        var logger = new ListLogger();
        using var daemon = new SchedulingDaemon([dir.Root], TestEngine.Options(new FixedTimeProvider(DueAt)), logger, DaemonOptions.Default with { Worker = new WorkerCommand(Path.Combine(dir.Root, "no-such-program"), []) });
        Assert.True(daemon.Start());

        await Tick(daemon, DueAt);

        Assert.Empty(Fired(dir));
        Assert.Contains(logger.Lines, l => l.Level == LogLevel.Error && l.Message.Contains("error PB5008: Evaluation worker of playbook 'p' could not be started (", StringComparison.Ordinal));
        Assert.Equal(TickResult.Failed, Assert.Single(daemon.Schedules()).Last!.Result);
    }

    [Theory]
    [InlineData("cat > /dev/null; echo 'the end of the story' >&2; exit 3", "exited with code 3: the end of the story")]
    [InlineData("cat > /dev/null; echo nonsense", "answered with something that is not a plan (")]
    [InlineData("cat > /dev/null; exit 0", "answered with nothing")]
    [InlineData("cat > /dev/null; echo '[1, 2]'", "answered with something that is not a plan (no plan and diagnostics[])")]
    [InlineData("cat > /dev/null; echo '{\"plan\": {\"asOf\": \"soon\", \"findings\": []}, \"diagnostics\": []}'", "answered with something that is not a plan (it is not a plan (no asOf and findings[]))")]
    [InlineData("cat > /dev/null; echo '{\"plan\": {\"asOf\": \"2026-01-01T00:00:00Z\", \"findings\": [{\"playbook\": \"p\"}]}, \"diagnostics\": []}'", "answered with something that is not a plan (a finding or an error is not in the plan's format (")]
    [InlineData("cat > /dev/null; echo '{\"plan\": null, \"diagnostics\": [{\"id\": \"PB9999\", \"message\": \"forged\"}]}'", "answered with something that is not a plan ('PB9999' is not a diagnostic this version knows)")]
    [InlineData("cat > /dev/null; (sleep 6 &); exit 0", "exited but its output stayed open for 3 s (a process it started still holds it)")]
    public async Task A_worker_that_answers_wrongly_is_a_diagnostic_and_the_daemon_goes_on(string script, string expected)
    {
        using var dir = new TempDir();
        Workspace(dir);
        var logger = new ListLogger();
        using var daemon = new SchedulingDaemon([dir.Root], TestEngine.Options(new FixedTimeProvider(DueAt)), logger, DaemonOptions.Default with { Worker = new WorkerCommand("sh", ["-c", script]) });
        Assert.True(daemon.Start());

        await Tick(daemon, DueAt);

        Assert.Empty(Fired(dir));
        Assert.Contains(logger.Lines, l => l.Level == LogLevel.Error && l.Message.Contains($"error PB5008: Evaluation worker of playbook 'p' {expected}", StringComparison.Ordinal));
        Assert.Equal(TickResult.Failed, Assert.Single(daemon.Schedules()).Last!.Result);
    }

    [Fact]
    public async Task An_edit_the_worker_could_not_rebuild_from_its_files_is_rejected_whole()
    {
        using var dir = new TempDir();
        Workspace(dir);
        dir.Write("q.yaml", File.ReadAllText(Path.Combine(dir.Root, "p.yaml")).Replace("playbook: p", "playbook: q", StringComparison.Ordinal));
        var logger = new ListLogger();
        using var daemon = Start(dir, logger);
        // The source is renamed in runner.yaml and in q.yaml, while p.yaml breaks: in process, p's last
        // good version would keep its old source; from files, it names a source that is gone.
        dir.Write("runner.yaml", File.ReadAllText(Path.Combine(dir.Root, "runner.yaml")).Replace("crm:", "people:", StringComparison.Ordinal));
        dir.Write("q.yaml", File.ReadAllText(Path.Combine(dir.Root, "q.yaml")).Replace("source: crm", "source: people", StringComparison.Ordinal));
        dir.Write("p.yaml", File.ReadAllText(Path.Combine(dir.Root, "p.yaml")).Replace("tickets > 3", "tickets >", StringComparison.Ordinal));

        Assert.True(daemon.Reload(DueAt));
        await Tick(daemon, DueAt);

        Assert.Contains(daemon.RejectedDiagnostics, d => d.IsError && d.Location.Path.EndsWith("p.yaml", StringComparison.Ordinal) && d.Message.Contains("'crm'", StringComparison.Ordinal));
        Assert.Equal(["crm", "crm"], daemon.Current!.Prepared.Workspace.Playbooks.Select(p => p.Source.Name));
        Assert.Equal(["p A", "p C", "q A", "q C"], TestEngine.History([dir.Root], null, null, failedOnly: false).Entries.Select(e => $"{e.Playbook} {e.Key}").Order(StringComparer.Ordinal));
    }

    [Fact]
    public void An_edit_is_compiled_in_the_worker_first_and_one_the_worker_cannot_check_is_not_taken()
    {
        using var dir = new TempDir();
        Workspace(dir);
        // The worker fails as soon as a STOP file exists: an edit the daemon would compile fine by itself
        // must still be refused, because the daemon never compiles an unchecked change in its own process.
        var stop = Path.Combine(dir.Root, "STOP");
        var failing = new WorkerCommand("sh", ["-c", "test -e \"$0\" && { cat > /dev/null; echo 'worker refused' >&2; exit 3; }; exec dotnet \"$1\" __evaluate", stop, Path.Combine(AppContext.BaseDirectory, "playbook.dll")]);
        var logger = new ListLogger();
        using var daemon = new SchedulingDaemon([dir.Root], TestEngine.Options(new FixedTimeProvider(DueAt)), logger, DaemonOptions.Default with { Worker = failing });
        Assert.True(daemon.Start(), Log(logger));

        File.WriteAllText(stop, "");
        dir.Write("p.yaml", File.ReadAllText(Path.Combine(dir.Root, "p.yaml")).Replace("tickets > 3", "tickets > 6", StringComparison.Ordinal));
        Assert.True(daemon.Reload(DueAt));
        Assert.Equal("tickets > 3", daemon.Current!.Prepared.Workspace.Playbooks.Single().Rules.Single().When.Value.Trim());
        var refused = Assert.Single(daemon.RejectedDiagnostics, d => d.IsError);
        Assert.Equal("PB5009", refused.Id);
        Assert.Contains("exited with code 3", refused.Message, StringComparison.Ordinal);

        // Once the worker can check it, the same edit is taken.
        File.Delete(stop);
        dir.Write("p.yaml", File.ReadAllText(Path.Combine(dir.Root, "p.yaml")) + "\n");
        Assert.True(daemon.Reload(DueAt));
        Assert.Equal("tickets > 6", daemon.Current!.Prepared.Workspace.Playbooks.Single().Rules.Single().When.Value.Trim());
        Assert.Empty(daemon.RejectedDiagnostics);
    }

    [Fact]
    public void Compile_errors_of_an_edit_come_from_the_worker_at_their_yaml_location()
    {
        using var dir = new TempDir();
        Workspace(dir);
        var logger = new ListLogger();
        using var daemon = Start(dir, logger);

        dir.Write("p.yaml", File.ReadAllText(Path.Combine(dir.Root, "p.yaml")).Replace("tickets > 3", "tickets >> \"3\"", StringComparison.Ordinal));
        Assert.True(daemon.Reload(DueAt));

        var error = Assert.Single(daemon.RejectedDiagnostics, d => d.IsError);
        Assert.Equal(("PB2001", Path.Combine(dir.Root, "p.yaml"), 6, 11), (error.Id, error.Location.Path, error.Location.Line, error.Location.Column));
        Assert.Equal("tickets > 3", daemon.Current!.Prepared.Workspace.Playbooks.Single().Rules.Single().When.Value.Trim());
    }

    [Fact]
    public void A_request_that_is_not_json_is_a_diagnostic_without_a_stack_trace()
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "playbook.dll"));
        info.ArgumentList.Add("__evaluate");
        using var process = Process.Start(info)!;
        process.StandardInput.Write("{\"snapshot\": [1, 2");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(60_000));

        Assert.Equal((2, ""), (process.ExitCode, stdout));
        Assert.StartsWith("playbook: error PB5016: The evaluation request is not valid: ", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    private static bool IsWorkerOf(Process process, string root)
    {
        try
        {
            return File.ReadAllText($"/proc/{process.Id}/cmdline").Contains("__evaluate", StringComparison.Ordinal)
                && Path.GetFullPath($"/proc/{process.Id}/cwd") is var cwd && new DirectoryInfo(cwd).ResolveLinkTarget(true)?.FullName == root;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
