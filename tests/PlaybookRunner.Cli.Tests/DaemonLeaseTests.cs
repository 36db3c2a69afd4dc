using System.Diagnostics;
using Microsoft.Extensions.Logging;
using PlaybookRunner.Cli.Tests.Commands;
using PlaybookRunner.Core;
using PlaybookRunner.Hosting;
using SchedulingDaemon = PlaybookRunner.Hosting.Daemon;

namespace PlaybookRunner.Cli.Tests;

/// <summary>Tick leases in a shared PostgreSQL store, with two daemons in this process and the real clock.</summary>
[Collection(PostgresCollection.Name)]
public sealed class DaemonLeaseTests(PostgresServer postgres)
{
    private static readonly DateTimeOffset DueAt = new(2026, 3, 2, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_tick_longer_than_its_lease_keeps_it_and_is_not_taken_over()
    {
        using var dir = new TempDir();
        dir.Write("runner.yaml", $$"""
            sources:
              crm: { kind: csv, path: customers.csv, key: id, fields: { id: string, tickets: int } }
            state: { kind: postgres, connection: "{{postgres.CreateDatabase("pblease")}}", lease_seconds: 2 }
            """);
        dir.Write("customers.csv", "id,tickets\nA,5\nB,1\n");
        dir.Write("p.yaml", """
            playbook: p
            source: crm
            schedule: "0 * * * *"
            rules:
              - { id: busy, when: tickets > 3, actions: [ { type: file, path: out.jsonl, body: "{{ id }}" } ] }
            """);
        var firstLog = new ListLogger();
        using var first = new SchedulingDaemon([dir.Root], TestEngine.Options(TimeProvider.System), firstLog, DaemonOptions.Default);
        Assert.True(first.Start(), string.Join('\n', firstLog.Lines.Select(l => l.Message)));

        // The data file becomes a named pipe: the tick blocks reading it until the test writes the rows.
        var csv = Path.Combine(dir.Root, "customers.csv");
        File.Delete(csv);
        using (var mkfifo = Process.Start("mkfifo", [csv]))
        {
            mkfifo.WaitForExit();
        }

        var tick = Task.Run(() => first.RunTickAsync(first.Current!.Units.Single(), DueAt, CancellationToken.None));
        // Two and a half leases later, a second daemon looks for ticks whose lease ran out.
        await Task.Delay(TimeSpan.FromSeconds(5));
        var secondLog = new ListLogger();
        using var second = new SchedulingDaemon([dir.Root], TestEngine.Options(TimeProvider.System), secondLog, DaemonOptions.Default);
        Assert.True(second.Start());
        var takeOver = second.TakeOverStaleTicksAsync(CancellationToken.None);
        var finishedEarly = await Task.WhenAny(takeOver, Task.Delay(TimeSpan.FromSeconds(3))) == takeOver;
        await Feed(csv);
        if (!finishedEarly)
        {
            // The failure this test looks for: the second daemon reads the pipe too; unblock it, then fail.
            await Feed(csv);
        }

        Assert.True(await tick.WaitAsync(TimeSpan.FromSeconds(30)));
        await takeOver.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(finishedEarly, "the second daemon took the running tick over and waited for the data");
        Assert.DoesNotContain(secondLog.Lines, l => l.Message.Contains("Taking over tick", StringComparison.Ordinal));
        Assert.DoesNotContain(firstLog.Lines, l => l.Level >= LogLevel.Warning);
        Assert.Equal(TickResult.Ok, Assert.Single(first.Schedules()).Last!.Result);
        Assert.Equal(["p busy A"], TestEngine.History([dir.Root], null, null, failedOnly: false).Entries.Select(e => $"{e.Playbook} {e.Rule} {e.Key}"));
    }

    [Fact]
    public async Task A_later_tick_is_not_evaluated_while_an_earlier_one_of_the_same_schedule_runs_elsewhere()
    {
        using var dir = new TempDir();
        dir.Write("runner.yaml", $$"""
            sources:
              crm: { kind: csv, path: customers.csv, key: id, fields: { id: string, tickets: int } }
            state: { kind: postgres, connection: "{{postgres.CreateDatabase("pboverlap")}}", lease_seconds: 30 }
            """);
        dir.Write("customers.csv", "id,tickets\nA,5\nB,1\n");
        dir.Write("p.yaml", """
            playbook: p
            source: crm
            schedule: "*/2 * * * * *"
            rules:
              - { id: busy, when: tickets > 3, cooldown: 1y, actions: [ { type: file, path: out.jsonl, body: "{{ id }}" } ] }
            """);
        var firstLog = new ListLogger();
        using var first = new SchedulingDaemon([dir.Root], TestEngine.Options(TimeProvider.System), firstLog, DaemonOptions.Default);
        Assert.True(first.Start());
        var secondLog = new ListLogger();
        using var second = new SchedulingDaemon([dir.Root], TestEngine.Options(TimeProvider.System), secondLog, DaemonOptions.Default);
        Assert.True(second.Start());

        var csv = Path.Combine(dir.Root, "customers.csv");
        File.Delete(csv);
        using (var mkfifo = Process.Start("mkfifo", [csv]))
        {
            mkfifo.WaitForExit();
        }

        // The first daemon's tick waits for its data; meanwhile the second daemon's turn comes for the next tick.
        var tick = Task.Run(() => first.RunTickAsync(first.Current!.Units.Single(), DueAt, CancellationToken.None));
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.True(await second.RunTickAsync(second.Current!.Units.Single(), DueAt.AddSeconds(2), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));
        await Feed(csv);
        Assert.True(await tick.WaitAsync(TimeSpan.FromSeconds(30)));

        // One firing for A, from the first tick: the second tick was skipped, not evaluated beside it.
        Assert.Equal(["p busy A"], TestEngine.History([dir.Root], null, null, failedOnly: false).Entries.Select(e => $"{e.Playbook} {e.Rule} {e.Key}"));
        Assert.Null(Assert.Single(second.Schedules()).Last);
    }

    /// <summary>Writes the rows into the named pipe, giving up after 5 s when nobody reads it.</summary>
    private static async Task Feed(string fifo)
    {
        var write = Task.Run(() => File.WriteAllText(fifo, "id,tickets\nA,5\nB,1\n"));
        await Task.WhenAny(write, Task.Delay(TimeSpan.FromSeconds(5)));
    }
}
