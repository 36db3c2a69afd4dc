using System.Diagnostics;
using System.Globalization;
using PlaybookRunner.Core;
using PlaybookRunner.Hosting;

namespace PlaybookRunner.Benchmarks;

/// <summary>
/// <c>tick --worker PATH/playbook.dll [--rows N] [--rate R] [--dir DIR]</c>: one daemon tick of the shape playbook
/// (<see cref="ShapeBench"/>) end to end, as <c>playbook daemon</c> runs it: the tick is evaluated by the evaluation
/// worker (<c>dotnet playbook.dll __evaluate</c>, a separate process under the heap limit <c>worker_memory_mb</c>
/// gives it), the daemon reads the worker's answer a finding at a time and records every firing in the SQLite store.
/// Prints the findings recorded, the tick's time, the worker's peak resident memory and the daemon's.
/// Actions are recorded as pending, not executed.
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

        var clock = Stopwatch.StartNew();
        var unit = daemon.Current!.Units.Single();
        var peak = new ChildPeak();
        var ran = await daemon.RunTickAsync(unit, BenchWorkspace.AsOf, CancellationToken.None);
        clock.Stop();
        peak.Dispose();
        var workerPeak = peak.Peak;

        var last = daemon.Schedules().Single().Last;
        var self = HighWater("/proc/self/status");
        var limit = daemon.Current.Prepared.Workspace.ExecutionOptions.WorkerMemoryMb;
        Console.WriteLine($"tick ran: {ran}; result {last?.Result}; {last?.Findings:N0} findings, {last?.Recorded:N0} recorded, {last?.Errors ?? 0} errors, {clock.Elapsed.TotalSeconds:F1} s");
        Console.WriteLine($"worker: peak resident {workerPeak / 1e6:F0} MB under a heap limit of {limit:N0} MB (worker_memory_mb); daemon: peak resident {self / 1e6:F0} MB");
        return ran && last is { Result: TickResult.Ok, Errors: 0 } ? 0 : 1;
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
