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
            var csv = new StringBuilder("id,name\n");
            for (var i = 0; i < Customers; i++)
            {
                csv.Append(System.Globalization.CultureInfo.InvariantCulture, $"C{i:D4},Customer {i}\n");
            }

            File.WriteAllText(Path.Combine(root, "customers.csv"), csv.ToString());
            File.WriteAllText(Path.Combine(root, "runner.yaml"), $$"""
                sources:
                  crm: { kind: csv, path: customers.csv, key: id, fields: { id: string, name: string } }
                channels:
                  sink: { kind: webhook, url: "{{server.Url("/hook")}}" }
                execution: { max_attempts: 3, backoff_ms: 1 }
                """);
            File.WriteAllText(Path.Combine(root, "p.yaml"), """
                playbook: p
                source: crm
                rules:
                  - id: r
                    when: "true"
                    cooldown: 30d
                    actions:
                      - { type: webhook, channel: sink, body: '{"id": "{{ id }}"}' }
                """);

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
            // At most the actions in flight at each kill come again, with their keys: one lane (one channel) runs
            // channel_concurrency (default 4) at a time.
            Assert.InRange(redelivered.Sum(r => r.Value - 1), 0, kills * 4);

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
