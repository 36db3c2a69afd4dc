using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using BenchmarkDotNet.Running;
using PlaybookRunner.Core;

namespace PlaybookRunner.Benchmarks;

/// <summary>
/// <c>e2e [--rows N] [--smoke] [--dir DIR]</c>: generates the data, runs PlaybookRunner, the hand-written
/// floor and RulesEngine each in a fresh process, checks they find the same, prints ratios.
/// <c>startup --playbook PATH [--runs N] [--dir DIR]</c>: wall time of <c>--version</c> and of <c>validate</c> of the examples
/// and of 100 rules, with the compile cache warm and with it off (a cold compile every time).
/// <c>throughput [--actions N] [--kind file|webhook] ...</c>: actions a second <c>run</c> executes (<see cref="ThroughputBench"/>).
/// <c>tick --worker PATH/playbook.dll [--rows N] [--rate R] [--ticks N]</c>: daemon ticks through the evaluation worker (<see cref="TickBench"/>).
/// <c>micro [BenchmarkDotNet options]</c>: evaluation only, in memory, with allocations.
/// <c>shape [--rows N] [--rates 1,25,100] [--repeat N] [--render-cost] [--smoke] [--dir DIR]</c>: the shape real playbooks have (<see cref="ShapeBench"/>),
/// planned to a JSON file by PlaybookRunner and by the hand-written floor at each firing rate; checks the two wrote
/// the same findings byte for byte and prints time and memory with the ratio.
/// </summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case "micro":
                BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args[1..]);
                return 0;
            case "child":
                return await ChildAsync(args[1], args[2], memory: args.Length > 3 && args[3] == "memory");
            case "e2e":
                return await EndToEndAsync(args[1..]);
            case "startup":
                return StartUp(args[1..]);
            case "shape":
                return Shape(args[1..]);
            case "throughput":
                return await ThroughputBench.RunAsync(args[1..]);
            case "tick":
                return await TickBench.RunAsync(args[1..]);
            default:
                Console.Error.WriteLine("usage: e2e [--rows N] [--smoke] [--dir DIR] | shape [--rows N] [--rates 1,25,100] [--repeat N] [--render-cost] [--smoke] [--dir DIR] | throughput [--actions N] [--kind file|webhook] [--delay-ms 2] [--concurrency 4] [--repeat N] [--daemon] | tick --worker PATH/playbook.dll [--rows N] [--rate R] [--ticks N] [--dir DIR] | startup --playbook PATH [--runs N] [--dir DIR] | micro [BenchmarkDotNet options]");
                return 2;
        }
    }

    private static async Task<int> EndToEndAsync(string[] args)
    {
        var smoke = args.Contains("--smoke");
        var rows = Option(args, "--rows") is { } r ? int.Parse(r, CultureInfo.InvariantCulture) : smoke ? 20_000 : 1_000_000;
        var dir = Option(args, "--dir") ?? Path.Combine(Path.GetTempPath(), $"playbook-bench-{rows}");
        var repeat = smoke ? 1 : 3;
        Console.WriteLine($"Generating {rows:N0} customers in {dir} ...");
        BenchWorkspace.Write(dir, rows);
        Console.WriteLine($"csv: {new FileInfo(Path.Combine(dir, "customers.csv")).Length / 1e6:F1} MB; 10 rules, 2 segments, 1 Pareto let; as of {BenchWorkspace.AsOf:yyyy-MM-dd}");

        // The first run compiles and fills the compile cache; the measured runs start from it, as every run after a deploy does.
        var warm = Child("playbook", dir);
        if (warm is null)
        {
            return 1;
        }

        var results = new Dictionary<string, ChildResult>();
        foreach (var engine in new[] { "floor", "playbook", "rulesengine" })
        {
            var runs = Enumerable.Range(0, engine == "rulesengine" ? 1 : repeat).Select(_ => Child(engine, dir)).ToList();
            if (runs.Any(x => x is null))
            {
                return 1;
            }

            results[engine] = runs.MinBy(x => x!.Seconds)!;
        }

        // Memory: one more run of each with forced full collections, for what each engine holds at its peak.
        foreach (var engine in results.Keys.ToList())
        {
            if (Child(engine, dir, memory: true) is not { } held)
            {
                return 1;
            }

            results[engine] = results[engine] with { PeakLiveMb = held.PeakLiveMb };
        }

        var floor = results["floor"];
        Console.WriteLine();
        Console.WriteLine($"{"engine",-14} {"seconds",8} {"x floor",8} {"peak heap MB",13} {"held MB",13} {"peak RSS MB",12}  findings");
        foreach (var (name, result) in results)
        {
            Console.WriteLine($"{name,-14} {result.Seconds,8:F2} {result.Seconds / floor.Seconds,8:F2} {result.PeakHeapMb,13:F0} {result.PeakLiveMb,13:F0} {result.PeakRssMb,12:F0}  {result.Counts.Sum():N0}");
        }

        var columnMb = rows * 16 / 1e6;
        var playbook = results["playbook"];
        Console.WriteLine();
        Console.WriteLine($"Pareto column (decimal, 16 bytes a record): {columnMb:F1} MB; PlaybookRunner holds at most {playbook.PeakLiveMb:F0} MB = {playbook.PeakLiveMb / columnMb:F1}x that column "
            + $"(peak heap with garbage not yet collected {playbook.PeakHeapMb:F0} MB = {playbook.PeakHeapMb / columnMb:F1}x)");
        Console.WriteLine($"PlaybookRunner / floor: {playbook.Seconds / floor.Seconds:F2}x time; RulesEngine / floor: {results["rulesengine"].Seconds / floor.Seconds:F2}x time");
        var agree = results.Values.All(x => x.Counts.SequenceEqual(floor.Counts));
        Console.WriteLine(agree ? "All three engines found the same customers per rule." : "MISMATCH: the engines disagree: " + string.Join(" | ", results.Select(x => $"{x.Key}: {string.Join(",", x.Value.Counts)}")));
        return agree ? 0 : 1;
    }

    private static int Shape(string[] args)
    {
        var smoke = args.Contains("--smoke");
        var rows = Option(args, "--rows") is { } r ? int.Parse(r, CultureInfo.InvariantCulture) : smoke ? 20_000 : 1_000_000;
        var rates = (Option(args, "--rates") ?? "1,25,100").Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToList();
        var dir = Option(args, "--dir") ?? Path.Combine(Path.GetTempPath(), $"playbook-shape-{rows}");
        var repeat = Option(args, "--repeat") is { } n ? int.Parse(n, CultureInfo.InvariantCulture) : smoke ? 1 : 3;
        var agree = true;
        Console.WriteLine($"{rows:N0} customers in {dir}; 3 rules, a Pareto and a percentile let, per rule a message, an email (multi-line body) and a webhook (JSON body); plan --format json --out");
        Console.WriteLine();
        Console.WriteLine($"{"rate",5} {"engine",-9} {"findings",9} {"seconds",8} {"x floor",8} {"cpu s",7} {"peak heap MB",13} {"held MB",8} {"peak RSS MB",12}");
        foreach (var rate in rates)
        {
            ShapeBench.Write(dir, rows, rate);
            // The first run compiles and fills the compile cache; the measured runs start from it.
            if (Child($"shape-playbook:{rate}", dir) is null)
            {
                return 1;
            }

            // The engines take turns, so that a slow minute of a shared machine falls on both; each round's ratio is kept too.
            string[] engines = ["shape-floor", "shape-playbook"];
            var rounds = Enumerable.Range(0, repeat).Select(_ => engines.Select(e => Child($"{e}:{rate}", dir)).ToList()).ToList();
            if (rounds.Any(round => round.Any(x => x is null)))
            {
                return 1;
            }

            var results = new Dictionary<string, ChildResult>();
            for (var e = 0; e < engines.Length; e++)
            {
                if (Child($"{engines[e]}:{rate}", dir, memory: true) is not { } held)
                {
                    return 1;
                }

                var runs = rounds.Select(round => round[e]!).ToList();
                results[engines[e]] = runs.MinBy(x => x.Seconds)! with { PeakLiveMb = held.PeakLiveMb, Spread = runs.Max(x => x.Seconds) - runs.Min(x => x.Seconds) };
            }

            var floor = results["shape-floor"];
            var ratios = rounds.Select(round => round[1]!.Seconds / round[0]!.Seconds).Order().ToList();
            foreach (var (engine, result) in results)
            {
                Console.WriteLine($"{rate + "%",5} {engine[6..],-9} {result.Counts.Sum(),9:N0} {result.Seconds,8:F2} {result.Seconds / floor.Seconds,8:F2} {result.CpuSeconds,7:F2} {result.PeakHeapMb,13:F0} {result.PeakLiveMb,8:F0} {result.PeakRssMb,12:F0}   (spread {result.Spread:F2} s)");
            }

            Console.WriteLine($"{rate + "%",5} per round: playbook/floor {string.Join(", ", ratios.Select(x => x.ToString("F2", CultureInfo.InvariantCulture)))} (median {ratios[ratios.Count / 2]:F2})");

            var same = ShapeBench.SameFindings(ShapeOutput(dir, "shape-floor"), ShapeOutput(dir, "shape-playbook"), out var difference);
            if (!same || !floor.Counts.SequenceEqual(results["shape-playbook"].Counts))
            {
                Console.WriteLine($"MISMATCH at {rate}%: {difference} (findings per rule: floor {string.Join(",", floor.Counts)}, playbook {string.Join(",", results["shape-playbook"].Counts)})");
                agree = false;
            }

            if (args.Contains("--render-cost") && results["shape-playbook"].Counts.Sum() is > 0 and var findings)
            {
                // The same findings without templates: what rendering, checking and writing a finding's six templates costs.
                ShapeBench.WritePlaybook(dir, rate, templates: false);
                var bare = Enumerable.Range(0, repeat).Select(_ => Child($"shape-playbook:{rate}", dir)).ToList();
                // The workspace is left as the benchmark writes it, templates and all, for runs of a single child on it.
                ShapeBench.WritePlaybook(dir, rate, templates: true);
                if (bare.Any(x => x is null))
                {
                    return 1;
                }

                var full = results["shape-playbook"].Seconds;
                var without = bare.Min(x => x!.Seconds);
                // Rendering runs on a thread of its own, beside the evaluation: the wall time it adds and the processor time it costs differ.
                var cpu = rounds.Select(round => round[1]!.CpuSeconds).Order().ToList()[repeat / 2] - bare.Select(x => x!.CpuSeconds).Order().ToList()[repeat / 2];
                Console.WriteLine($"{rate + "%",5} rendering: {(full - without) * 1e6 / findings,6:F1} µs a finding of wall time, {cpu * 1e6 / findings:F1} µs of processor time (medians) (message, email and webhook: six templates, preflight and JSON); the same plan without templates {without:F2} s");
            }
        }

        Console.WriteLine(agree ? "Both engines wrote the same findings, messages and actions, byte for byte, at every rate." : "MISMATCH: see above.");
        return agree ? 0 : 1;
    }

    private static string ShapeOutput(string dir, string engine) => Path.Combine(dir, $"{engine}.out.json");

    private static int StartUp(string[] args)
    {
        if (Option(args, "--playbook") is not { } playbook)
        {
            Console.Error.WriteLine("usage: startup --playbook PATH [--runs N] [--dir DIR]   (PATH: a published playbook, e.g. /tmp/r2r/playbook, or a playbook.dll)");
            return 2;
        }

        var runs = Option(args, "--runs") is { } n ? int.Parse(n, CultureInfo.InvariantCulture) : 6;
        var folder = Option(args, "--dir") ?? Path.Combine(Path.GetTempPath(), "playbook-bench-startup");
        BenchWorkspace.WriteStartup(folder);
        var cache = Path.Combine(folder, "cache");
        var examples = Path.Combine(FindRepository(), "playbooks");
        var cases = new (string Name, string[] Args, string Cache)[]
        {
            ("playbook --version", ["--version"], cache),
            ("validate examples, cache hit", ["validate", examples], cache),
            ("validate 100 rules, cache hit", ["validate", folder], cache),
            ("validate 100 rules, cold compile", ["validate", folder], "off"),
        };
        Console.WriteLine($"{playbook}: mean and best of {runs} runs each, after one warm-up run");
        double? version = null;
        foreach (var (name, arguments, cacheDir) in cases)
        {
            var times = Enumerable.Range(0, runs + 1).Select(_ => TimeProcess(playbook, arguments, cacheDir)).Skip(1).ToList();
            if (times.Any(t => t is null))
            {
                return 1;
            }

            var mean = times.Average(t => t!.Value);
            version ??= mean;
            Console.WriteLine($"{name,-34} {mean,7:F0} ms  best {times.Min()!.Value,5:F0} ms  above --version {mean - version.Value,6:F0} ms");
        }

        return 0;
    }

    private static double? TimeProcess(string file, string[] arguments, string cacheDir)
    {
        // A framework-dependent build (playbook.dll) runs through the dotnet host.
        var start = new ProcessStartInfo(file.EndsWith(".dll", StringComparison.Ordinal) ? "dotnet" : file) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (file.EndsWith(".dll", StringComparison.Ordinal))
        {
            start.ArgumentList.Add(file);
        }

        start.Environment["PLAYBOOK_CACHE_DIR"] = cacheDir;
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var elapsed = clock.Elapsed.TotalMilliseconds;
        if (process.ExitCode != 0)
        {
            Console.Error.WriteLine($"{file} {string.Join(' ', arguments)} failed (exit {process.ExitCode}):\n{stdout}\n{stderr.Result}");
            return null;
        }

        return elapsed;
    }

    private static string FindRepository()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PlaybookRunner.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Run from the repository: PlaybookRunner.sln not found above " + Directory.GetCurrentDirectory());
    }

    internal static string? Option(string[] args, string name) =>
        Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

    private sealed record ChildResult(double Seconds, double PeakHeapMb, double PeakLiveMb, double PeakRssMb, int[] Counts)
    {
        /// <summary>Slowest minus fastest of the timed runs.</summary>
        public double Spread { get; init; }

        /// <summary>Processor time of the whole process (every thread) over the timed part.</summary>
        public double CpuSeconds { get; init; }
    }

    /// <summary>Runs one engine in a fresh process, so that its time and memory are its own.</summary>
    private static ChildResult? Child(string engine, string dir, bool memory = false)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true };
        // Every engine runs with the runtime settings the playbook tool ships with (its csproj: no dynamic PGO).
        start.Environment["DOTNET_TieredPGO"] = "0";
        if (!Environment.ProcessPath!.EndsWith("PlaybookRunner.Benchmarks", StringComparison.Ordinal))
        {
            start.ArgumentList.Add(typeof(Program).Assembly.Location);
        }

        foreach (var arg in new[] { "child", engine, dir, memory ? "memory" : "timed" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var line = stdout.Split('\n').FirstOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        if (process.ExitCode != 0 || line is null)
        {
            Console.Error.WriteLine($"{engine} failed (exit {process.ExitCode}):\n{stdout}\n{stderr.Result}");
            return null;
        }

        return JsonSerializer.Deserialize<ChildResult>(line[7..]);
    }

    private static async Task<int> ChildAsync(string engine, string dir, bool memory)
    {
        var csv = Path.Combine(dir, "customers.csv");
        using var sampler = new PeakSampler(memory);
        var cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
        TimeSpan? cpu = null;
        var clock = Stopwatch.StartNew();
        int[] counts;
        switch (engine.Split(':')[0])
        {
            case "shape-floor":
                counts = ShapeBench.Floor(csv, int.Parse(engine.Split(':')[1], CultureInfo.InvariantCulture), ShapeOutput(dir, "shape-floor"));
                break;
            case "shape-playbook":
                var planned = await new PlaybookEngine(new EngineOptions { Time = TimeProvider.System, Environment = Environment.GetEnvironmentVariable })
                    .PlanAsync([dir], BenchWorkspace.AsOf, provenance: true);
                if (planned.Plan is null || planned.Plan.Errors.Count > 0)
                {
                    // An error (a budget run out, a template that failed) means findings are missing: not a valid measurement.
                    Console.Error.WriteLine(string.Join("\n", planned.Diagnostics.Select(d => d.Message).Concat(planned.Plan?.Errors.Take(5).Select(e => e.Message) ?? [])));
                    return 1;
                }

                var planSeconds = clock.Elapsed.TotalSeconds;
                // What `plan --format json --out FILE` does: the plan streamed into the file.
                using (var output = new FileStream(ShapeOutput(dir, "shape-playbook"), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
                {
                    Core.Planning.PlanDocument.Write(output, planned.Plan, dir);
                }

                // Counted after the clock stops, from the spill's own counts (the JSON is compared byte for byte anyway).
                clock.Stop();
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"phases: planned in {planSeconds:F2} s, written in {clock.Elapsed.TotalSeconds - planSeconds:F2} s"));
                cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuAtStart;
                counts = planned.Plan.Findings is Core.Planning.SpooledFindings spooled
                    ? [.. ShapeBench.Rules.Select((_, i) => spooled.PerRule().Where(s => s.RuleIndex == i).Sum(s => s.Count))]
                    : [.. ShapeBench.Rules.Select(r => planned.Plan.Findings.Count(f => f.Rule == r.Id))];
                break;
            case "floor":
                counts = HandWritten.Run(csv);
                break;
            case "rulesengine":
                counts = await RulesEngineRunner.RunAsync(csv);
                break;
            default:
                var result = await new PlaybookEngine(new EngineOptions { Time = TimeProvider.System, Environment = Environment.GetEnvironmentVariable }).PlanAsync([dir], BenchWorkspace.AsOf);
                if (result.Plan is null)
                {
                    Console.Error.WriteLine(string.Join("\n", result.Diagnostics.Select(d => d.Message)));
                    return 1;
                }

                counts = [.. BenchWorkspace.Rules.Select(r => result.Plan.Findings.Count(f => f.Rule == r.Id))];
                break;
        }

        var seconds = clock.Elapsed.TotalSeconds;
        cpu ??= Process.GetCurrentProcess().TotalProcessorTime - cpuAtStart;
        var (heap, live, rss) = sampler.Stop();
        if (!memory)
        {
            live = 0;
        }

        Console.WriteLine("RESULT " + JsonSerializer.Serialize(new ChildResult(seconds, heap / 1e6, live / 1e6, rss / 1e6, counts) { CpuSeconds = cpu.Value.TotalSeconds }));
        return 0;
    }

    /// <summary>
    /// Samples the managed heap every millisecond: its size, garbage not yet collected included. In a
    /// memory run it instead forces a full, compacting collection every 10 ms (or four times as long as the
    /// last one took) and takes the heap's size after it: what the program still references (much slower; not timed). Reads the peak resident
    /// set from the kernel at the end.
    /// </summary>
    private sealed class PeakSampler : IDisposable
    {
        private readonly Thread _thread;
        private readonly bool _memory;
        private volatile bool _stop;
        private long _peakHeap;
        private long _peakLive;

        public PeakSampler(bool memory)
        {
            _memory = memory;
            _thread = new Thread(() =>
            {
                while (!_stop)
                {
                    var clock = Stopwatch.StartNew();
                    Sample();
                    // A full collection of a large heap takes long: wait four times as long as it took, so that the
                    // program still gets most of the time (a heap of a gigabyte would otherwise hardly move).
                    Thread.Sleep(_memory ? Math.Max(10, (int)(clock.ElapsedMilliseconds * 4)) : 1);
                }
            }) { IsBackground = true, Priority = ThreadPriority.AboveNormal };
            _thread.Start();
        }

        private void Sample()
        {
            _peakHeap = Math.Max(_peakHeap, GC.GetTotalMemory(false));
            if (_memory)
            {
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                _peakLive = Math.Max(_peakLive, GC.GetTotalMemory(false));
            }
        }

        public (long Heap, long Live, long Rss) Stop()
        {
            _stop = true;
            _thread.Join();
            Sample();
            var hwm = File.Exists("/proc/self/status")
                ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))
                : null;
            var rss = hwm is null ? 0 : long.Parse(hwm.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            return (_peakHeap, _peakLive, rss);
        }

        public void Dispose() => _stop = true;
    }
}
