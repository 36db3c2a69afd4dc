using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using PlaybookRunner.Core;
using PlaybookRunner.Core.Execution;

namespace PlaybookRunner.Benchmarks;

/// <summary>
/// <c>throughput [--actions N] [--kind file|webhook] [--delay-ms 2] [--concurrency 4] [--repeat N] [--daemon] [--dir DIR]</c>:
/// how many actions a second <c>run</c> executes (issue 21, goal 4), or with <c>--daemon</c> a daemon's pass of claims
/// after one tick (in process, nothing logged), with the durability it has in production: a real
/// SQLite store (WAL, synchronous=FULL), file lines written through to disk, webhooks to a loopback receiver that
/// answers each request after <c>--delay-ms</c>. One rule fires for every customer with one action. Each repetition
/// starts from an empty store. Prints the whole run (plan, recording, execution) and the execution alone: from the
/// first claim to the end of the run. Fails unless every action succeeded and arrived exactly once.
/// </summary>
internal static class ThroughputBench
{
    private static readonly DateTimeOffset AsOf = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    public static async Task<int> RunAsync(string[] args)
    {
        var actions = Program.Option(args, "--actions") is { } a ? int.Parse(a, CultureInfo.InvariantCulture) : 20_000;
        var kind = Program.Option(args, "--kind") ?? "file";
        var delay = Program.Option(args, "--delay-ms") is { } d ? int.Parse(d, CultureInfo.InvariantCulture) : 2;
        var concurrency = Program.Option(args, "--concurrency") is { } c ? int.Parse(c, CultureInfo.InvariantCulture) : 4;
        var repeat = Program.Option(args, "--repeat") is { } r ? int.Parse(r, CultureInfo.InvariantCulture) : 3;
        var daemon = args.Contains("--daemon");
        var dir = Program.Option(args, "--dir") ?? Path.Combine(Path.GetTempPath(), $"playbook-throughput-{kind}-{actions}");
        if (kind is not ("file" or "webhook"))
        {
            Console.Error.WriteLine("--kind is file or webhook");
            return 2;
        }

        using var receiver = kind == "webhook" ? new Receiver(delay) : null;
        Write(dir, actions, kind, receiver?.Url, concurrency);
        Console.WriteLine($"{actions:N0} {kind} actions, one rule, {(daemon ? "a daemon's tick and pass of claims" : "run")}, a SQLite store (WAL, synchronous=FULL) in {dir}"
            + (receiver is null ? "; lines written through to disk" : $"; a loopback receiver answering after {delay} ms, concurrency {concurrency}"));
        Console.WriteLine($"{"run",4} {"whole run s",12} {"actions/s",10} {"execution s",12} {"actions/s",10}");
        var best = double.MaxValue;
        for (var run = 0; run <= repeat; run++)
        {
            // Run 0 compiles and fills the compile cache; it is not counted.
            foreach (var state in Directory.EnumerateFiles(dir, "playbook-state.db*").Concat(Directory.EnumerateFiles(dir, "*.jsonl")))
            {
                File.Delete(state);
            }

            receiver?.Clear();
            var observer = new FirstClaim();
            var engine = new PlaybookEngine(new EngineOptions { Time = TimeProvider.System, Environment = Environment.GetEnvironmentVariable, Observer = observer });
            var clock = Stopwatch.StartNew();
            var (executed, succeeded, problems) = daemon ? await DaemonAsync(dir, observer) : await RunAsync(engine, dir);
            var whole = clock.Elapsed.TotalSeconds;
            var execution = observer.Since(clock);
            var output = Path.Combine(dir, "out.jsonl");
            var delivered = receiver?.Distinct ?? (File.Exists(output) ? File.ReadLines(output).Count() : 0);
            if (!succeeded || executed != actions || delivered != actions || receiver is { Duplicates: > 0 })
            {
                Console.Error.WriteLine($"run {run}: {executed} of {actions} executed, {delivered} delivered, {receiver?.Duplicates ?? 0} twice; {problems}");
                return 1;
            }

            if (run > 0)
            {
                best = Math.Min(best, execution);
                Console.WriteLine($"{run,4} {whole,12:F2} {actions / whole,10:N0} {execution,12:F2} {actions / execution,10:N0}"
                    + (receiver is null ? "" : $"  (the receiver held each request {receiver.AnswerMs:F1} ms on average)"));
            }
        }

        Console.WriteLine($"best execution: {actions / best:N0} {kind} actions a second");
        return 0;
    }

    /// <summary><c>run</c>: how many actions it executed, whether all succeeded, and its first diagnostics.</summary>
    private static async Task<(int Executed, bool Succeeded, string Problems)> RunAsync(PlaybookEngine engine, string dir)
    {
        var result = await engine.RunAsync([dir], AsOf);
        return (result.Actions.Count, result.Success && result.Actions.All(x => x.Succeeded), string.Join("; ", result.Diagnostics.Take(5).Select(x => x.Message)));
    }

    /// <summary>A daemon in process (as <c>playbook daemon --isolation none</c> runs): one tick recorded, then one pass of claims.</summary>
    private static async Task<(int Executed, bool Succeeded, string Problems)> DaemonAsync(string dir, IExecutionObserver observer)
    {
        var engine = new EngineOptions { Time = TimeProvider.System, Environment = Environment.GetEnvironmentVariable, Observer = observer };
        using var daemon = new Hosting.Daemon([dir], engine, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, Hosting.DaemonOptions.Default with { CreateStore = true });
        if (!daemon.Start())
        {
            return (0, false, "the daemon did not start");
        }

        foreach (var unit in daemon.Current!.Units)
        {
            await daemon.RunTickAsync(unit, AsOf, CancellationToken.None);
        }

        var executed = await daemon.ExecutePendingAsync(CancellationToken.None, CancellationToken.None);
        return (executed, daemon.StoreLost is null, daemon.StoreLost ?? "");
    }

    private static void Write(string dir, int actions, string kind, string? url, int concurrency)
    {
        Directory.CreateDirectory(dir);
        var csv = new StringBuilder("id,name\n");
        for (var i = 0; i < actions; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"C{i:D7},Customer {i}\n");
        }

        File.WriteAllText(Path.Combine(dir, "customers.csv"), csv.ToString());
        File.WriteAllText(Path.Combine(dir, "runner.yaml"), $$"""
            sources:
              crm: { kind: csv, path: customers.csv, key: id, fields: { id: string, name: string } }
            channels:
              sink: { kind: webhook, url: "{{url ?? "http://127.0.0.1:9/"}}", concurrency: {{concurrency.ToString(CultureInfo.InvariantCulture)}} }
            """);
        var action = kind == "file" ? "{ type: file, path: out.jsonl, body: \"{{ name }} needs a call\" }" : "{ type: webhook, channel: sink, body: '{\"id\": \"{{ id }}\"}' }";
        File.WriteAllText(Path.Combine(dir, "p.yaml"), $"""
            playbook: p
            source: crm
            schedule: "0 9 * * *"
            rules:
              - id: all
                when: "true"
                actions:
                  - {action}
            """);
    }

    /// <summary>When the first action was claimed: the execution phase starts there.</summary>
    private sealed class FirstClaim : IExecutionObserver
    {
        private long _first;

        public void Claimed(string idempotencyKey) => Interlocked.CompareExchange(ref _first, Stopwatch.GetTimestamp(), 0);

        public double Since(Stopwatch clock) => Stopwatch.GetElapsedTime(Interlocked.Read(ref _first)).TotalSeconds;
    }

    /// <summary>A loopback webhook receiver that answers 200 after a fixed delay and counts each idempotency key.</summary>
    private sealed class Receiver : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _keys = new(StringComparer.Ordinal);
        private readonly int _delay;
        private long _waitedTicks;

        public Receiver(int delay)
        {
            _delay = delay;
            // The receiver blocks a thread per request it holds (below): enough threads at once, so that it does not wait
            // for the thread pool to grow (which would be the receiver's slowness, not the runner's).
            ThreadPool.GetMinThreads(out var workers, out var ports);
            ThreadPool.SetMinThreads(Math.Max(workers, 256), ports);
            var port = FreePort();
            Url = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/hook";
            _listener.Prefixes.Add($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");
            _listener.Start();
            _ = Task.Run(LoopAsync);
        }

        public string Url { get; }

        public int Distinct => _keys.Count;

        public int Duplicates => _keys.Values.Sum(n => n - 1);

        /// <summary>How long the receiver really held each request, in milliseconds (a timer's wait is never shorter than asked, often longer).</summary>
        public double AnswerMs => _keys.IsEmpty ? 0 : Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _waitedTicks)).TotalMilliseconds / _keys.Values.Sum();

        public void Clear()
        {
            _keys.Clear();
            Interlocked.Exchange(ref _waitedTicks, 0);
        }

        public void Dispose() => _listener.Close();

        private async Task LoopAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                _ = Task.Run(async () =>
                {
                    using (var body = new StreamReader(context.Request.InputStream))
                    {
                        await body.ReadToEndAsync();
                    }

                    _keys.AddOrUpdate(context.Request.Headers["Idempotency-Key"] ?? "", 1, (_, n) => n + 1);
                    var waited = Stopwatch.GetTimestamp();
                    // Not Task.Delay: its timer rounds a 2 ms wait up to 4-5 ms here. A blocking sleep keeps to the delay asked.
                    Thread.Sleep(_delay);
                    Interlocked.Add(ref _waitedTicks, Stopwatch.GetTimestamp() - waited);
                    context.Response.StatusCode = 200;
                    context.Response.Close();
                });
            }
        }

        private static int FreePort()
        {
            using var socket = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
            socket.Start();
            return ((IPEndPoint)socket.LocalEndpoint).Port;
        }
    }
}
