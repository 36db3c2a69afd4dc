using System.Net;
using System.Net.Sockets;

namespace PlaybookRunner.Core.Tests.Execution;

/// <summary>
/// A header rendered from customer data that holds a control character (CR, LF, ESC...) is a per-action
/// error and never sent: plan reports it (preflight) at the field's template, and run sends the other
/// customers' actions only. Checked against a raw socket receiver and a real SMTP server.
/// </summary>
public sealed class HeaderInjectionTests
{
    public static TheoryData<string> HostileNames() => new()
    {
        "Acme\r\nX-Evil: 1",
        "Acme\nBcc: attacker@example.com",
        "Acme\rX-Evil: 1",
        "Acme\u001b[31m",
        "Acme\u0000",
    };

    private static string Csv(string name) => $"id,name\nA,\"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"\nB,Bolt\n";

    [Theory]
    [MemberData(nameof(HostileNames))]
    public async Task A_webhook_header_from_data_with_a_control_character_is_never_sent(string name)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var requests = new List<string>();
        var accepting = Task.Run(async () =>
        {
            while (true)
            {
                using var client = await listener.AcceptTcpClientAsync();
                var stream = client.GetStream();
                var buffer = new byte[8192];
                var read = await stream.ReadAsync(buffer);
                lock (requests)
                {
                    requests.Add(System.Text.Encoding.UTF8.GetString(buffer, 0, read));
                }

                await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"u8.ToArray());
            }
        });
        try
        {
            using var workspace = new TempWorkspace();
            workspace.Write("d.csv", Csv(name));
            var file = workspace.Write("p.yaml", $$$"""
                playbook: p
                source: { kind: csv, path: d.csv, key: id, fields: { id: string, name: string } }
                rules:
                  - id: r
                    when: "true"
                    actions:
                      - { type: webhook, url: "http://127.0.0.1:{{{port}}}/hook", headers: { X-Customer: "{{ name }}" }, body: '{"id": "{{ id }}"}' }
                """);

            var run = await TestEngine.RunAsync([file], DateTimeOffset.UnixEpoch, new FixedTimeProvider(DateTimeOffset.UnixEpoch));

            var error = Assert.Single(run.Plan!.Errors);
            Assert.Equal(("PB5002", "A"), (error.Id, error.Key));
            Assert.Contains("header 'X-Customer' contains a control character", error.Message, StringComparison.Ordinal);
            Assert.Equal((7, 85), (error.Location.Line, error.Location.Column));
            Assert.Equal(["B"], run.Actions.Where(a => a.Succeeded).Select(a => a.Key));
            Assert.DoesNotContain(run.Actions, a => a.Key == "A");
            lock (requests)
            {
                Assert.Equal(["B"], requests.Select(r => r.Contains("X-Customer: Bolt", StringComparison.Ordinal) ? "B" : r));
            }
        }
        finally
        {
            listener.Stop();
            await Task.WhenAny(accepting, Task.Delay(1000));
        }
    }

    [Theory]
    [MemberData(nameof(HostileNames))]
    public async Task An_email_subject_from_data_with_a_control_character_is_never_sent(string name)
    {
        using var smtp = new SmtpServer();
        using var workspace = new TempWorkspace();
        workspace.Write("d.csv", Csv(name));
        workspace.Write("runner.yaml", $"channels:\n  default: {{ kind: smtp, host: 127.0.0.1, port: {smtp.Port}, from: cs@example.com, tls: none }}\n");
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, name: string } }
            rules:
              - id: r
                when: "true"
                actions:
                  - { type: email, to: owner@example.com, subject: "Call {{ name }}", body: "Call {{ name }}" }
            """);

        var run = await TestEngine.RunAsync([file], DateTimeOffset.UnixEpoch, new FixedTimeProvider(DateTimeOffset.UnixEpoch));

        var error = Assert.Single(run.Plan!.Errors);
        Assert.Equal(("PB5002", "A"), (error.Id, error.Key));
        Assert.Contains("email action 'subject' contains a control character", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(run.Actions, a => a.Key == "A");
        Assert.Contains("Subject: Call Bolt", Assert.Single(smtp.Messages()), StringComparison.Ordinal);
    }
}
