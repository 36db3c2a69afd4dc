using PlaybookRunner.Cli.Tests.Commands;

namespace PlaybookRunner.Cli.Tests;

/// <summary>
/// One allowed call that allocates without bound (six chained Replace calls, 2 GB in one expression, no
/// lambda) is stopped inside the rule by the process's heap limit in every command that evaluates,
/// through the real built program: never a crash, and the other playbook still runs.
/// </summary>
public sealed class HeapLimitProcessTests
{
    private static readonly Dictionary<string, string> Limit256 = new() { ["DOTNET_GCHeapHardLimit"] = "0x10000000" };

    private static void Workspace(TempDir dir)
    {
        var x32 = new string('x', 32);
        var chain = string.Concat(Enumerable.Repeat($".Replace(\"x\", \"{x32}\")", 6));
        dir.Write("customers.csv", "id,tickets\nA,5\nB,1\n");
        dir.Write("p.yaml", $$"""
            playbook: p
            source: { kind: csv, path: customers.csv, key: id, fields: { id: string, tickets: int } }
            rules:
              - id: busy
                when: '("x" + id){{chain}}.Length > 0'
            """);
        dir.Write("q.yaml", """
            playbook: q
            source: { kind: csv, path: customers.csv, key: id, fields: { id: string, tickets: int } }
            rules:
              - { id: calm, when: tickets < 3 }
            """);
        dir.Write("p.test.yaml", """
            tests:
              - name: busy fires
                playbook: p
                as_of: 2026-03-02T09:00:00Z
                records: [ { id: A, tickets: 5 } ]
                expect: [ { rule: busy, key: A, fires: true } ]
            """);
    }

    [Theory]
    [InlineData("plan")]
    [InlineData("test")]
    [InlineData("explain")]
    public void A_huge_single_call_is_stopped_by_the_heap_limit_with_rule_and_key(string verb)
    {
        using var dir = new TempDir();
        Workspace(dir);
        string[] args = verb switch
        {
            "plan" => ["plan", dir.Root, "--as-of", "2026-03-02T09:00:00Z"],
            "test" => ["test", dir.Root],
            _ => ["explain", "p/busy", "A", dir.Root, "--as-of", "2026-03-02T09:00:00Z"],
        };

        var (code, stdout, stderr) = ProcessRunner.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "playbook.dll"), .. args], environment: Limit256, timeoutSeconds: 120);

        var all = stdout + stderr;
        Assert.True(code == 1, $"exit {code}: {all}");
        Assert.Contains("allocated more than 256 MB for key 'A', in rule 'busy'", all, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", all, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", all, StringComparison.Ordinal);
        if (verb == "plan")
        {
            Assert.Contains("q/calm", all, StringComparison.Ordinal);
        }
    }
}

/// <summary>
/// One allowed call that runs far past the time budget (a linguistic search in a million characters, no
/// lambda, so no check inside it) ends a one-shot command shortly after the budget, with a diagnostic.
/// </summary>
public sealed class BudgetWatchdogProcessTests
{
    [Theory]
    [InlineData("plan")]
    [InlineData("explain")]
    public void A_call_that_overruns_the_budget_stops_the_command_with_a_diagnostic(string verb)
    {
        using var dir = new TempDir();
        dir.Write("customers.csv", "id,tickets\nA,5\n");
        dir.Write("runner.yaml", "execution: { evaluation_budget_ms: 500 }\n");
        var needle = "\"\".PadLeft(9999, 'a') + \"b\"";
        var haystack = "id.PadLeft(10000, 'a').Replace(\"a\", \"\".PadLeft(100, 'a'))";
        var search = string.Join(" && ", Enumerable.Range(0, 8).Select(i => $"{haystack}.IndexOf({needle} + \"{i}\") < 0"));
        dir.Write("p.yaml", $$"""
            playbook: p
            source: { kind: csv, path: customers.csv, key: id, fields: { id: string, tickets: int } }
            rules:
              - id: slow
                when: '{{search.Replace("'", "''", StringComparison.Ordinal)}}'
            """);
        string[] args = verb == "plan" ? ["plan", dir.Root, "--as-of", "2026-03-02T09:00:00Z"] : ["explain", "p/slow", "A", dir.Root, "--as-of", "2026-03-02T09:00:00Z"];
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var (code, stdout, stderr) = ProcessRunner.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "playbook.dll"), .. args], timeoutSeconds: 120);

        Assert.True(code == 1, $"exit {code}: {stdout}{stderr}");
        Assert.Contains("error PB5003: Evaluation of playbook 'p' exceeded its time budget of 500 ms and was still running 10 s later", stderr, StringComparison.Ordinal);
        Assert.InRange(clock.Elapsed.TotalSeconds, 10, 40);
    }

    [Fact]
    public async Task Waiting_for_a_data_file_past_the_budget_and_its_grace_does_not_stop_the_command()
    {
        // The data file is a named pipe whose second row comes 11 s after its first, past the 500 ms budget and the
        // watchdog's 10 s grace: the watchdog, like the budget, leaves out the time spent waiting for the source.
        using var dir = new TempDir();
        dir.Write("runner.yaml", "execution: { evaluation_budget_ms: 500 }\n");
        dir.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: customers.csv, key: id, fields: { id: string, tickets: int } }\nrules:\n  - { id: busy, when: tickets > 1 }\n");
        var csv = Path.Combine(dir.Root, "customers.csv");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [csv]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        var writer = Task.Run(async () =>
        {
            try
            {
                await using var pipe = new StreamWriter(new FileStream(csv, FileMode.Open, FileAccess.Write));
                await pipe.WriteAsync("id,tickets\nA,5\n");
                await pipe.FlushAsync();
                await Task.Delay(TimeSpan.FromSeconds(11));
                await pipe.WriteAsync("B,7\n");
            }
            catch (IOException)
            {
                // The command ended before reading the second row (stopped by the watchdog): the assertions say so.
            }
        });

        var (code, stdout, stderr) = ProcessRunner.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "playbook.dll"), "plan", dir.Root, "--as-of", "2026-03-02T09:00:00Z"], timeoutSeconds: 120);
        await writer.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(code == 0, $"exit {code}: {stdout}{stderr}");
        Assert.DoesNotContain("PB5003", stdout + stderr, StringComparison.Ordinal);
        Assert.Contains("p/busy", stdout, StringComparison.Ordinal);
        Assert.Contains("2 findings", stdout, StringComparison.Ordinal);
    }
}
