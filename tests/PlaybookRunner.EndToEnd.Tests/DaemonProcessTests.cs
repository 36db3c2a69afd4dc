using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace PlaybookRunner.EndToEnd.Tests;

/// <summary>
/// The real `playbook daemon` as processes: three daemons sharing one PostgreSQL store and one webhook
/// listener, one killed and one paused past its lease mid-run; and one daemon's HTTP endpoints, JSON
/// logs and graceful stop.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class DaemonProcessTests(PostgresServer postgres, Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Customers = 300;

    private sealed class DaemonProcess : IDisposable
    {
        private readonly Process _process;

        public DaemonProcess(string root, IReadOnlyDictionary<string, string> environment, params string[] args)
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "playbook-testhost.dll"));
            info.ArgumentList.Add("daemon");
            info.ArgumentList.Add(root);
            info.ArgumentList.Add("--create-store");
            foreach (var arg in args)
            {
                info.ArgumentList.Add(arg);
            }

            foreach (var (name, value) in environment)
            {
                info.Environment[name] = value;
            }

            _process = Process.Start(info)!;
            _process.OutputDataReceived += (_, e) => Add(e.Data);
            _process.ErrorDataReceived += (_, e) => Add(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public ConcurrentQueue<string> Lines { get; } = new();

        public int Id => _process.Id;

        public bool HasExited => _process.HasExited;

        public string Log => string.Join('\n', Lines);

        /// <summary>True when the process is stopped by a signal (state T in /proc).</summary>
        public bool IsStopped => !_process.HasExited && File.ReadAllText($"/proc/{Id}/stat").Split(')')[^1].Trim().StartsWith('T');

        private void Add(string? line)
        {
            if (line is not null)
            {
                Lines.Enqueue(line);
            }
        }

        public void Signal(string signal)
        {
            using var kill = Process.Start("kill", [$"-{signal}", Id.ToString(CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
        }

        public int WaitForExit(TimeSpan timeout)
        {
            Assert.True(_process.WaitForExit(timeout), "the daemon did not exit in time:\n" + Log);
            _process.WaitForExit();
            return _process.ExitCode;
        }

        public void Dispose()
        {
            TestCanary.Keep("daemon", Log);
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }

            _process.Dispose();
        }
    }

    private static void WaitUntil(Func<bool> condition, TimeSpan timeout, Func<string> explain)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < timeout, explain());
            Thread.Sleep(50);
        }
    }

    private static string Workspace(string root, string hookUrl, string state, string headers = "", string execution = "max_attempts: 3, backoff_ms: 1")
    {
        Directory.CreateDirectory(root);
        var csv = new StringBuilder("id,name\n");
        for (var i = 0; i < Customers; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"C{i:D4},Customer {i}\n");
        }

        File.WriteAllText(Path.Combine(root, "customers.csv"), csv.ToString());
        File.WriteAllText(Path.Combine(root, "runner.yaml"), $$"""
            sources:
              crm: { kind: csv, path: customers.csv, key: id, fields: { id: string, name: string } }
            channels:
              sink: { kind: webhook, url: "{{hookUrl}}"{{headers}} }
            execution: { {{execution}} }
            {{state}}
            """);
        return Path.Combine(root, "p.yaml");
    }

    private const string Playbook = """
        playbook: p
        source: crm
        schedule: "*/2 * * * * *"
        rules:
          - id: r
            when: "true"
            cooldown: 1y
            actions:
              - { type: webhook, channel: sink, body: '{"id": "{{ id }}"}' }
        """;

    [Fact]
    public void Three_daemons_share_a_postgres_store_one_killed_one_paused_every_action_delivered_once()
    {
        var received = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        using var server = new JsonApiServer(request =>
        {
            Thread.Sleep(15);
            received.AddOrUpdate(request.Headers["Idempotency-Key"] ?? "", 1, (_, n) => n + 1);
            return (200, "{}", null);
        });
        var root = Path.Combine(Path.GetTempPath(), "pbha-" + Guid.NewGuid().ToString("N")[..8]);
        var connection = postgres.CreateDatabase("pbha");
        // One action at a time per daemon: a daemon killed (or paused) with several webhooks in flight would leave them
        // to be sent again with the same key (at least once; docs/reliability.md), and this test counts exactly once.
        File.WriteAllText(Workspace(root, server.Url("/hook"), "state: { kind: postgres, connection: \"${env:PB_STATE_URL}\", lease_seconds: 3 }", execution: "max_attempts: 3, backoff_ms: 1, channel_concurrency: 1"), Playbook);
        // The cluster trusts loopback, so the password is never checked: it is a canary for the sweep.
        var withPassword = new Npgsql.NpgsqlConnectionStringBuilder(connection) { Password = TestCanary.New("daemon-state-password") }.ToString();
        var environment = new Dictionary<string, string> { ["PB_STATE_URL"] = withPassword };
        try
        {
            using var killed = new DaemonProcess(root, new Dictionary<string, string>(environment) { ["PLAYBOOK_TEST_STOP_AT_CLAIM"] = "20" }, "--listen", "none", "--poll", "1");
            using var paused = new DaemonProcess(root, new Dictionary<string, string>(environment) { ["PLAYBOOK_TEST_STOP_AT_CLAIM"] = "30" }, "--listen", "none", "--poll", "1");
            using var steady = new DaemonProcess(root, environment, "--listen", "none", "--poll", "1");
            string Logs() => $"received {received.Count}\n--- killed:\n{killed.Log}\n--- paused:\n{paused.Log}\n--- steady:\n{steady.Log}";

            // The first stops itself right after claiming its 20th action: kill it there, holding the claim.
            WaitUntil(() => killed.IsStopped, TimeSpan.FromSeconds(90), Logs);
            killed.Signal("KILL");
            killed.WaitForExit(TimeSpan.FromSeconds(10));

            // The second stops after its 30th claim: hold it until its lease ran out and another runner delivered the
            // action it holds (on a slow machine that can take longer than the lease), then let it go on.
            const string Marker = "test host: stopping at claim ";
            WaitUntil(() => paused.IsStopped && paused.Lines.Any(l => l.StartsWith(Marker, StringComparison.Ordinal)), TimeSpan.FromSeconds(90), Logs);
            var held = paused.Lines.Single(l => l.StartsWith(Marker, StringComparison.Ordinal))[Marker.Length..].Trim();
            WaitUntil(() => received.ContainsKey(held), TimeSpan.FromSeconds(90), Logs);
            paused.Signal("CONT");

            WaitUntil(() => received.Count == Customers, TimeSpan.FromSeconds(90), Logs);
            WaitUntil(() => paused.Log.Contains("was claimed by another runner while this one was paused", StringComparison.Ordinal), TimeSpan.FromSeconds(30), Logs);
            Thread.Sleep(TimeSpan.FromSeconds(3));

            Assert.Equal(Customers, received.Count);
            Assert.Equal([], received.Where(r => r.Value != 1).Select(r => r.Key));
            Assert.Equal(Enumerable.Range(0, Customers).Select(i => $"C{i:D4}"), received.Keys.Select(k => k.Split('/')[2]).Order(StringComparer.Ordinal));

            using (var check = new Npgsql.NpgsqlConnection(connection))
            {
                check.Open();
                using var command = check.CreateCommand();
                command.CommandText = "SELECT state || ':' || COUNT(*) FROM actions GROUP BY state";
                Assert.Equal($"succeeded:{Customers}", command.ExecuteScalar());
            }

            paused.Signal("TERM");
            steady.Signal("TERM");
            Assert.Equal(0, paused.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.Equal(0, steady.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.Contains("Stopped", steady.Log, StringComparison.Ordinal);
        }
        finally
        {
            TestCanary.DeleteFolder(root);
        }
    }

    [Fact]
    public async Task A_postgres_outage_pauses_two_daemons_which_report_it_and_recover_without_losing_or_duplicating_an_action()
    {
        var received = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        using var server = new JsonApiServer(request =>
        {
            Thread.Sleep(50);
            received.AddOrUpdate(request.Headers["Idempotency-Key"] ?? "", 1, (_, n) => n + 1);
            return (200, "{}", null);
        });
        var root = Path.Combine(Path.GetTempPath(), "pbout-" + Guid.NewGuid().ToString("N")[..8]);
        // Under /tmp itself, not TMPDIR: the server runs as the postgres user, who cannot enter .ci/run's private temporary folder.
        var cluster = Path.Combine("/tmp", "pbpgout-" + Guid.NewGuid().ToString("N")[..8], "pg");
        var pgPort = PostgresServer.FreePort();
        var connection = PostgresServer.StartCluster(cluster, pgPort);
        File.WriteAllText(Workspace(root, server.Url("/hook"), "state: { kind: postgres, connection: \"${env:PB_STATE_URL}\" }"), Playbook);
        var environment = new Dictionary<string, string> { ["PB_STATE_URL"] = connection };
        var port = JsonApiServer.FreePort();
        try
        {
            using var a = new DaemonProcess(root, environment, "--listen", $"127.0.0.1:{port}", "--poll", "1");
            using var b = new DaemonProcess(root, environment, "--listen", "none", "--poll", "1");
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(20) };
            string Logs() => $"received {received.Count}\n--- a:\n{a.Log}\n--- b:\n{b.Log}";
            WaitUntil(() => received.Count >= 60, TimeSpan.FromSeconds(90), Logs);

            // PostgreSQL goes away mid-delivery (a fast shutdown terminates every session: 57P01) for about ten seconds.
            PostgresServer.StopCluster(cluster, keep: true);
            var outage = Stopwatch.StartNew();
            var unhealthy = "";
            WaitUntil(() => (unhealthy = Health(http)).Contains("unhealthy: the state store ", StringComparison.Ordinal), TimeSpan.FromSeconds(20), () => unhealthy + Logs());
            Thread.Sleep(TimeSpan.FromSeconds(10) - outage.Elapsed);
            Assert.False(a.HasExited || b.HasExited, Logs());
            var duringOutage = received.Count;

            PostgresServer.StartCluster(cluster, pgPort);
            var recovery = Stopwatch.StartNew();
            WaitUntil(() => received.Count == Customers, TimeSpan.FromSeconds(90), Logs);
            var recovered = recovery.Elapsed;
            WaitUntil(() => Health(http) == "ok\n", TimeSpan.FromSeconds(30), Logs);
            Thread.Sleep(TimeSpan.FromSeconds(3));

            Assert.Equal(Customers, received.Count);
            Assert.Equal([], received.Where(r => r.Value != 1).Select(r => r.Key));
            using (var check = new Npgsql.NpgsqlConnection(connection))
            {
                check.Open();
                using var command = check.CreateCommand();
                command.CommandText = "SELECT state || ':' || COUNT(*) FROM actions GROUP BY state";
                Assert.Equal($"succeeded:{Customers}", command.ExecuteScalar());
            }

            Assert.DoesNotContain("playbook_store_errors_total 0", await http.GetStringAsync("metrics"), StringComparison.Ordinal);
            Assert.Contains("playbook_store_up 1", await http.GetStringAsync("metrics"), StringComparison.Ordinal);
            Assert.Contains("The state store is reachable again after", a.Log, StringComparison.Ordinal);
            output.WriteLine($"PostgreSQL outage: {duringOutage} delivered before it ended, all {Customers} delivered {recovered.TotalSeconds:0.0} s after it was back, 0 lost, 0 twice");

            a.Signal("TERM");
            b.Signal("TERM");
            Assert.Equal(0, a.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.Equal(0, b.WaitForExit(TimeSpan.FromSeconds(30)));
        }
        finally
        {
            PostgresServer.StopCluster(cluster, keep: false);
            Directory.Delete(Path.GetDirectoryName(cluster)!, recursive: true);
            TestCanary.DeleteFolder(root);
        }
    }

    private static string Health(HttpClient http)
    {
        try
        {
            return http.GetStringAsync("healthz").GetAwaiter().GetResult();
        }
        catch (HttpRequestException ex) when (ex.StatusCode is System.Net.HttpStatusCode.ServiceUnavailable)
        {
            using var response = http.GetAsync("healthz").GetAwaiter().GetResult();
            return response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        }
        catch (HttpRequestException ex)
        {
            return ex.Message;
        }
    }

    [Fact]
    public async Task One_daemon_serves_health_metrics_and_status_logs_json_and_stops_gracefully()
    {
        using var server = new JsonApiServer(_ => (200, "{}", null));
        var root = Path.Combine(Path.GetTempPath(), "pbd-" + Guid.NewGuid().ToString("N")[..8]);
        File.WriteAllText(Workspace(root, server.Url("/hook"), "", ", headers: { X-Token: \"${env:PB_HOOK_TOKEN}\" }"), Playbook);
        var canary = TestCanary.New("daemon-hook-token");
        var port = JsonApiServer.FreePort();
        try
        {
            using var daemon = new DaemonProcess(root, new Dictionary<string, string> { ["PB_HOOK_TOKEN"] = canary },
                "--listen", $"127.0.0.1:{port}", "--log-format", "json", "--poll", "1");
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
            WaitUntil(() => daemon.Log.Contains("\"Message\":\"Action p/r/C0299/0/", StringComparison.Ordinal), TimeSpan.FromSeconds(60), () => daemon.Log);

            var health = await http.GetAsync("healthz");
            Assert.Equal((200, "ok\n"), ((int)health.StatusCode, await health.Content.ReadAsStringAsync()));
            var metrics = await http.GetStringAsync("metrics");
            Assert.Contains($"playbook_actions_total{{type=\"webhook\",outcome=\"succeeded\"}} {Customers}", metrics, StringComparison.Ordinal);
            Assert.Contains("playbook_findings_total{playbook=\"p\",rule=\"r\"} 300", metrics, StringComparison.Ordinal);
            Assert.Contains($"playbook_store_actions{{state=\"succeeded\"}} {Customers}", metrics, StringComparison.Ordinal);
            var page = await http.GetStringAsync("");
            Assert.Contains("<td>p</td><td><code>*/2 * * * * *</code></td><td>UTC</td><td>r</td>", page, StringComparison.Ordinal);
            Assert.Contains("<td class=\"succeeded\">succeeded</td>", page, StringComparison.Ordinal);
            Assert.Equal(404, (int)(await http.GetAsync("nope")).StatusCode);

            daemon.Signal("TERM");
            Assert.Equal(0, daemon.WaitForExit(TimeSpan.FromSeconds(30)));

            // Every line is one JSON object; the webhook token never appears.
            foreach (var line in daemon.Lines)
            {
                using var json = JsonDocument.Parse(line);
                Assert.True(json.RootElement.TryGetProperty("Message", out _), line);
            }

            Assert.DoesNotContain(canary, daemon.Log, StringComparison.Ordinal);
            Assert.Contains("\"Message\":\"Stopped\"", daemon.Log, StringComparison.Ordinal);
            Assert.Contains("ticks are evaluated in a worker process (heap limit 2048 MB, killed after 300 s)", daemon.Log, StringComparison.Ordinal);
        }
        finally
        {
            TestCanary.DeleteFolder(root);
        }
    }

    [Fact]
    public void A_workspace_that_does_not_validate_at_start_exits_1_with_its_diagnostics()
    {
        var root = Path.Combine(Path.GetTempPath(), "pbd-" + Guid.NewGuid().ToString("N")[..8]);
        File.WriteAllText(Workspace(root, "http://127.0.0.1:9/hook", ""), Playbook.Replace("when: \"true\"", "when: nope", StringComparison.Ordinal));
        try
        {
            using var daemon = new DaemonProcess(root, new Dictionary<string, string>(), "--listen", "none");
            Assert.Equal(1, daemon.WaitForExit(TimeSpan.FromSeconds(60)));
            Assert.Contains("p.yaml(6,11): error PB2001: CS0103: 'nope' is not a field, related list, let value, computed value, segment or helper of playbook 'p'", daemon.Log, StringComparison.Ordinal);
            Assert.Contains("nothing to run", daemon.Log, StringComparison.Ordinal);
        }
        finally
        {
            TestCanary.DeleteFolder(root);
        }
    }

    [Fact]
    public void A_bad_listen_address_is_a_usage_error()
    {
        var (code, _, stderr) = CliRunner.Run("daemon", "playbooks/", "--listen", "everywhere");
        Assert.Equal((2, "playbook: error PB1024: --listen 'everywhere' is not HOST:PORT (for example 127.0.0.1:9464) or none\n"), (code, stderr));
    }
}
