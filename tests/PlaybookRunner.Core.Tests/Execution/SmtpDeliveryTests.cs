using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PlaybookRunner.Core.Tests.Execution;

/// <summary>
/// Delivered means delivered (docs/reliability.md): once an SMTP server accepted the message (its reply after
/// DATA), the action succeeded, whatever QUIT does; and <c>timeout_seconds</c> bounds every SMTP step. Checked
/// against a raw socket server that speaks SMTP and then misbehaves.
/// </summary>
public sealed class SmtpDeliveryTests
{
    /// <summary>A minimal SMTP server on 127.0.0.1 that accepts every message and then, on QUIT, stalls or hangs up.</summary>
    private sealed class FaultySmtp : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly List<TcpClient> _held = [];
        private int _messages;
        private int _connections;
        private int _quits;

        public FaultySmtp(string onQuit, bool stallBeforeAccept = false, bool closeAfterMessage = false)
        {
            _listener.Start();
            _ = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    TcpClient client;
                    try
                    {
                        client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    }
                    catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
                    {
                        return;
                    }

                    lock (_held)
                    {
                        _held.Add(client);
                    }

                    Interlocked.Increment(ref _connections);
                    _ = Task.Run(() => Serve(client, onQuit, stallBeforeAccept, closeAfterMessage));
                }
            });
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public int Messages => Volatile.Read(ref _messages);

        public int Connections => Volatile.Read(ref _connections);

        public int Quits => Volatile.Read(ref _quits);

        private async Task Serve(TcpClient client, string onQuit, bool stallBeforeAccept, bool closeAfterMessage)
        {
            try
            {
                var stream = client.GetStream();
                using var reader = new StreamReader(stream, Encoding.ASCII);
                var writer = new StreamWriter(stream, Encoding.ASCII) { NewLine = "\r\n", AutoFlush = true };
                await writer.WriteLineAsync("220 faulty ESMTP");
                while (await reader.ReadLineAsync(_stop.Token) is { } line)
                {
                    var verb = line.Split(' ')[0].ToUpperInvariant();
                    switch (verb)
                    {
                        case "EHLO" or "HELO":
                            await writer.WriteLineAsync("250 faulty");
                            break;
                        case "DATA":
                            await writer.WriteLineAsync("354 go ahead");
                            while (await reader.ReadLineAsync(_stop.Token) is { } data && data != ".")
                            {
                            }

                            if (stallBeforeAccept)
                            {
                                await Task.Delay(Timeout.Infinite, _stop.Token);
                            }

                            Interlocked.Increment(ref _messages);
                            await writer.WriteLineAsync("250 accepted");
                            if (closeAfterMessage)
                            {
                                // An idle connection the server closes: the next message must not fail on it.
                                client.Client.Close();
                                return;
                            }

                            break;
                        case "QUIT" when onQuit == "stall":
                            await Task.Delay(Timeout.Infinite, _stop.Token);
                            break;
                        case "QUIT" when onQuit == "hang-up":
                            client.Client.Close();
                            return;
                        case "QUIT":
                            Interlocked.Increment(ref _quits);
                            await writer.WriteLineAsync("221 bye");
                            return;
                        default:
                            await writer.WriteLineAsync("250 ok");
                            break;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
            {
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            lock (_held)
            {
                _held.ForEach(c => c.Dispose());
            }

            _stop.Dispose();
        }
    }

    private static string Workspace(TempWorkspace workspace, int port)
    {
        workspace.Write("d.csv", "id\nA\n");
        workspace.Write("runner.yaml", $"channels:\n  default: {{ kind: smtp, host: 127.0.0.1, port: {port}, from: cs@example.com, tls: none }}\nexecution: {{ max_attempts: 3, backoff_ms: 1, timeout_seconds: 2 }}\n");
        return workspace.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: \"true\", actions: [ { type: email, to: owner@example.com, subject: Hi, body: Hello } ] }\n");
    }

    [Theory]
    [InlineData("stall")]
    [InlineData("hang-up")]
    public async Task A_message_the_server_accepted_is_delivered_once_whatever_quit_does(string onQuit)
    {
        using var smtp = new FaultySmtp(onQuit);
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, smtp.Port);
        var clock = Stopwatch.StartNew();

        var run = await TestEngine.RunAsync([file], DateTimeOffset.UnixEpoch, new FixedTimeProvider(DateTimeOffset.UnixEpoch));

        var action = Assert.Single(run.Actions);
        Assert.True(action.Succeeded, action.Message);
        Assert.Equal(1, action.Attempts);
        Assert.Equal(1, smtp.Messages);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Timeout_seconds_bounds_an_smtp_server_that_never_answers_the_data()
    {
        using var smtp = new FaultySmtp("reply", stallBeforeAccept: true);
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, smtp.Port);
        var clock = Stopwatch.StartNew();

        var run = await TestEngine.RunAsync([file], DateTimeOffset.UnixEpoch, new FixedTimeProvider(DateTimeOffset.UnixEpoch));

        var action = Assert.Single(run.Actions);
        Assert.False(action.Succeeded);
        Assert.Equal(3, action.Attempts);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"3 attempts of 2 s each took {clock.Elapsed}");
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 5)]
    public async Task Messages_of_one_run_share_a_connection_and_one_the_server_closed_is_replaced(bool closeAfterMessage, int connections)
    {
        using var smtp = new FaultySmtp("reply", closeAfterMessage: closeAfterMessage);
        using var workspace = new TempWorkspace();
        workspace.Write("d.csv", "id\nA\nB\nC\nD\nE\n");
        workspace.Write("runner.yaml", $"channels:\n  default: {{ kind: smtp, host: 127.0.0.1, port: {smtp.Port}, from: cs@example.com, tls: none, concurrency: 1 }}\nexecution: {{ max_attempts: 3, backoff_ms: 1, timeout_seconds: 2 }}\n");
        var file = workspace.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: \"true\", actions: [ { type: email, to: owner@example.com, subject: Hi, body: Hello } ] }\n");

        var run = await TestEngine.RunAsync([file], DateTimeOffset.UnixEpoch, new FixedTimeProvider(DateTimeOffset.UnixEpoch));

        Assert.True(run.Success, string.Join("\n", run.Actions.Select(a => a.Message)));
        Assert.All(run.Actions, a => Assert.Equal(1, a.Attempts));
        Assert.Equal((5, connections), (smtp.Messages, smtp.Connections));
        // The connection kept is closed politely when the run ends.
        Assert.Equal(closeAfterMessage ? 0 : 1, smtp.Quits);
    }
}
