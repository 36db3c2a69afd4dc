using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;

namespace PlaybookRunner.EndToEnd.Tests;

/// <summary>
/// Kills the real `playbook run` process with SIGKILL at several points of a 1,000-action run against
/// a webhook listener, restarts it each time, and checks that every action arrived and that the
/// listener's dedupe by Idempotency-Key executed each key exactly once.
/// </summary>
public sealed class CrashRecoveryTests
{
    private const int Customers = 1000;

    [Fact]
    public void Sigkill_at_several_points_loses_nothing_and_executes_nothing_twice()
    {
        var received = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var executed = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        var total = 0;
        using var server = new JsonApiServer(request =>
        {
            var key = request.Headers["Idempotency-Key"] ?? "";
            received.AddOrUpdate(key, 1, (_, n) => n + 1);
            // The sink's dedupe: a key it has seen is acknowledged but not executed again.
            executed.TryAdd(key, true);
            Interlocked.Increment(ref total);
            return (200, "{}", null);
        });

        var root = Path.Combine(Path.GetTempPath(), "pbcrash-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        try
        {
            Write(root, Customers, $$"""
                channels:
                  sink: { kind: webhook, url: "{{server.Url("/hook")}}" }
                execution: { max_attempts: 3, backoff_ms: 1 }
                """, """{ type: webhook, channel: sink, body: '{"id": "{{ id }}"}' }""");

            var kills = 0;
            foreach (var killAt in new[] { 150, 420, 777 })
            {
                var (code, killed) = RunUntil(root, () => Volatile.Read(ref total) >= killAt);
                Assert.True(killed, $"the run ended (exit {code}) before it could be killed at {killAt} requests");
                kills++;
            }

            var (finalCode, finalKilled) = RunUntil(root, () => false);
            Assert.False(finalKilled);
            Assert.Equal(0, finalCode);

            var expected = Enumerable.Range(0, Customers).Select(i => $"p/r/C{i:D4}/0/20260302T090000.000Z").ToHashSet(StringComparer.Ordinal);
            Assert.Equal(expected.Order(StringComparer.Ordinal), executed.Keys.Order(StringComparer.Ordinal));
            var redelivered = received.Where(r => r.Value > 1).ToList();
            // At most what a kill can leave unrecorded comes again, with its key: one lane (one channel) runs
            // channel_concurrency (default 4) at a time and records outcomes 4 per slot at a time (16), so a kill leaves at
            // most 16 sent and not yet recorded plus the 4 in flight.
            Assert.InRange(redelivered.Sum(r => r.Value - 1), 0, kills * 20);

            // A further run finds nothing pending and everything held back by the cooldown.
            var (againCode, _) = RunUntil(root, () => false);
            Assert.Equal(0, againCode);
            Assert.Equal(Customers + redelivered.Sum(r => r.Value - 1), Volatile.Read(ref total));
        }
        finally
        {
            TestCanary.DeleteFolder(root);
        }
    }

    [Fact]
    public void Sigkill_while_file_actions_are_written_leaves_every_line_exactly_once()
    {
        var root = Path.Combine(Path.GetTempPath(), "pbcrash-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        try
        {
            const int customers = 5000;
            Write(root, customers, "", """{ type: file, path: out.jsonl, body: "{{ name }} needs a call" }""");

            // Killed as soon as the file has grown past each mark: lines are written a part at a time, so most kills land
            // between a part's write and the record of its outcomes, whose lines the next run must not write again.
            var output = Path.Combine(root, "out.jsonl");
            var killed = 0;
            foreach (var mark in new[] { 1, 600, 1800, 3300 })
            {
                var (code, wasKilled) = RunUntil(root, () => File.Exists(output) && new FileInfo(output).Length / 150 >= mark);
                killed += wasKilled ? 1 : 0;
                Assert.True(wasKilled || code == 0, $"the run exited {code} before the kill at line {mark}");
            }

            Assert.True(killed >= 2, $"only {killed} of 4 runs could be killed in time");
            var (finalCode, _) = RunUntil(root, () => false);
            Assert.Equal(0, finalCode);

            var ids = File.ReadLines(output).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("id").GetString()!).ToList();
            var expected = Enumerable.Range(0, customers).Select(i => $"p/r/C{i:D4}/0/20260302T090000.000Z");
            Assert.Equal(expected.Order(StringComparer.Ordinal), ids.Order(StringComparer.Ordinal));
        }
        finally
        {
            TestCanary.DeleteFolder(root);
        }
    }

    /// <summary>A workspace of <paramref name="customers"/> customers and one rule that fires for each with <paramref name="action"/>, once in 30 days.</summary>
    private static void Write(string root, int customers, string runner, string action)
    {
        var csv = new StringBuilder("id,name\n");
        for (var i = 0; i < customers; i++)
        {
            csv.Append(System.Globalization.CultureInfo.InvariantCulture, $"C{i:D4},Customer {i}\n");
        }

        File.WriteAllText(Path.Combine(root, "customers.csv"), csv.ToString());
        File.WriteAllText(Path.Combine(root, "runner.yaml"), "sources:\n  crm: { kind: csv, path: customers.csv, key: id, fields: { id: string, name: string } }\n" + runner);
        File.WriteAllText(Path.Combine(root, "p.yaml"), $"""
            playbook: p
            source: crm
            rules:
              - id: r
                when: "true"
                cooldown: 30d
                actions:
                  - {action}
            """);
    }

    /// <summary>Runs `playbook run` until it exits, or SIGKILLs it as soon as <paramref name="kill"/> says so.</summary>
    private static (int Code, bool Killed) RunUntil(string root, Func<bool> kill)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "playbook.dll"));
        foreach (var arg in new[] { "run", "--create-store", root, "--as-of", "2026-03-02T09:00:00Z" })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        var deadline = Stopwatch.StartNew();
        while (!process.HasExited)
        {
            if (kill())
            {
                process.Kill(entireProcessTree: false);
                process.WaitForExit();
                return (process.ExitCode, true);
            }

            if (deadline.Elapsed > TimeSpan.FromMinutes(3))
            {
                process.Kill();
                throw new TimeoutException("playbook run did not finish within 3 minutes");
            }

            Thread.Sleep(1);
        }

        process.WaitForExit();
        return (process.ExitCode, false);
    }
}
