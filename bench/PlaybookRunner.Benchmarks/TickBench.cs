using System.Diagnostics;
using System.Globalization;
using PlaybookRunner.Core;
using PlaybookRunner.Hosting;

namespace PlaybookRunner.Benchmarks;

/// <summary>
/// <c>tick --worker PATH/playbook.dll [--rows N] [--rate R] [--ticks N] [--dir DIR]</c>: daemon ticks of the shape playbook
/// (<see cref="ShapeBench"/>) end to end, as <c>playbook daemon</c> runs it: the tick is evaluated by the evaluation
/// worker (<c>dotnet playbook.dll __evaluate</c>, a separate process under the heap limit <c>worker_memory_mb</c>
/// gives it), the daemon reads the worker's answer a finding at a time and records every firing in the SQLite store.
/// Prints the findings recorded, the tick's time, the worker's peak resident memory and the daemon's. With
/// <c>--ticks N</c>, N ticks a day apart: the later ones read the history the earlier ones recorded. Actions are
/// recorded as pending, not executed.
/// </summary>
internal static class TickBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var rows = Program.Option(args, "--rows") is { } r ? int.Parse(r, CultureInfo.InvariantCulture) : 1_000_000;
        var rate = Program.Option(args, "--rate") is { } p ? int.Parse(p, CultureInfo.InvariantCulture) : 25;
        var dir = Program.Option(args, "--dir") ?? Path.Combine(Path.GetTempPath(), $"playbook-tick-{rows}");
        if (Program.Option(args, "--worker") is not { } worker || !File.Exists(worker))
        {
            Console.Error.WriteLine("tick needs --worker PATH/playbook.dll (dotnet build -c Release src/PlaybookRunner.Cli puts it in src/PlaybookRunner.Cli/bin/Release/net10.0/)");
            return 2;
        }

        Console.WriteLine($"Generating {rows:N0} customers in {dir} ...");
        ShapeBench.Write(dir, rows, rate);
        var playbook = Path.Combine(dir, "shape.yaml");
        File.WriteAllText(playbook, File.ReadAllText(playbook).Replace("source: customers\n", "source: customers\nschedule: \"0 9 * * *\"\n", StringComparison.Ordinal));
        // The bench records actions and never executes them: without a bound this large the backlog of the first
        // tick would hold the second back (backpressure), which is what a real daemon's pending actions do.
        File.AppendAllText(Path.Combine(dir, "runner.yaml"), "execution:\n  max_backlog: 1000000000\n");
        foreach (var store in Directory.EnumerateFiles(dir, "bench-state.db*"))
        {
            File.Delete(store);
        }

        var engine = new EngineOptions { Time = TimeProvider.System, Environment = Environment.GetEnvironmentVariable };
        var options = DaemonOptions.Default with { CreateStore = true, Worker = new WorkerCommand("dotnet", [Path.GetFullPath(worker), "__evaluate"]) };
        using var daemon = new Daemon([dir], engine, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, options);
        if (!daemon.Start())
        {
            Console.Error.WriteLine("the daemon did not start");
            return 1;
        }

        var ticks = Program.Option(args, "--ticks") is { } t ? int.Parse(t, CultureInfo.InvariantCulture) : 1;
        var unit = daemon.Current!.Units.Single();
        var limit = daemon.Current.Prepared.Workspace.ExecutionOptions.WorkerMemoryMb;
        var ok = true;
        for (var day = 0; day < ticks; day++)
        {
            // Each tick a day after the one before: from the second on, the worker and the daemon read the history the earlier ticks recorded.
            var clock = Stopwatch.StartNew();
            var peak = new ChildPeak();
            var ran = await daemon.RunTickAsync(unit, BenchWorkspace.AsOf.AddDays(day), CancellationToken.None);
            clock.Stop();
            peak.Dispose();
            var last = daemon.Schedules().Single().Last;
            Console.WriteLine($"tick {day + 1} ran: {ran}; result {last?.Result}; {last?.Findings:N0} findings, {last?.Recorded:N0} actions recorded, {last?.Errors ?? 0} errors, {clock.Elapsed.TotalSeconds:F1} s");
            Console.WriteLine($"  worker: peak resident {peak.Peak / 1e6:F0} MB under a heap limit of {limit:N0} MB (worker_memory_mb); daemon so far: peak resident {HighWater("/proc/self/status") / 1e6:F0} MB");
            ok &= ran && last is { Result: TickResult.Ok, Errors: 0 };
        }

        return ok ? 0 : 1;
    }

    /// <summary>Samples the peak resident memory (VmHWM) of this process's children (the worker) until stopped.</summary>
    private sealed class ChildPeak : IDisposable
    {
        private readonly Thread _thread;
        private volatile bool _stop;

        public ChildPeak()
        {
            _thread = new Thread(() =>
            {
                while (!_stop)
                {
                    foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
                    {
                        foreach (var pid in Read(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                        {
                            Peak = Math.Max(Peak, HighWater($"/proc/{pid}/status"));
                        }
                    }

                    Thread.Sleep(100);
                }
            }) { IsBackground = true };
            _thread.Start();
        }

        public long Peak { get; private set; }

        public void Dispose()
        {
            _stop = true;
            _thread.Join();
        }
    }

    /// <summary>VmHWM of a /proc status file in bytes; 0 when it is gone.</summary>
    private static long HighWater(string status) =>
        Read(status).Split('\n').FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)) is { } line
            ? long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024
            : 0;

    private static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
