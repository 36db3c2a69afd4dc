using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace PlaybookRunner.Core.Tests.Execution;

/// <summary>
/// Signed webhooks (Standard Webhooks): a channel's <c>signing_secret</c> signs <c>id.timestamp.body</c> with HMAC-SHA256
/// into <c>webhook-signature: v1,...</c>, checked here independently against what the real listener received; a secret
/// that is not one sends nothing; a playbook cannot set the header itself; the secret is stored nowhere.
/// </summary>
public sealed class WebhookSigningTests
{
    private static readonly DateTimeOffset Day1 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Every_request_carries_a_signature_a_receiver_verifies_with_the_shared_secret()
    {
        var received = new ConcurrentQueue<(string Id, string Timestamp, string Signature, string Body)>();
        using var server = new JsonApiServer(request =>
        {
            var body = new StreamReader(request.InputStream).ReadToEnd();
            received.Enqueue((request.Headers["webhook-id"] ?? "", request.Headers["webhook-timestamp"] ?? "", request.Headers["webhook-signature"] ?? "", body));
            return (200, "{}", null);
        });
        var key = RandomNumberGenerator.GetBytes(32);
        var secret = "whsec_" + Convert.ToBase64String(key);
        var variable = "PB_TEST_SIGN_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        Environment.SetEnvironmentVariable(variable, secret);
        try
        {
            using var workspace = Workspace(server.Url("/hook"), $"${{env:{variable}}}", "body: '{\"id\": \"{{ id }}\", \"note\": \"héllo ✓\"}'");
            var run = await TestEngine.RunAsync([workspace.Root], Day1, new FixedTimeProvider(Day1.AddMinutes(5)));
            Assert.True(run.Success, string.Join("\n", run.Diagnostics.Select(d => d.Message).Concat(run.Plan?.Errors.Select(e => e.Message) ?? [])));
            Assert.Equal(2, received.Count);
            foreach (var (id, timestamp, signature, body) in received)
            {
                // The attempt's time, not the firing's: receivers refuse timestamps far from now.
                Assert.Equal(Day1.AddMinutes(5).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), timestamp);
                var expected = "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}")));
                Assert.Equal(expected, signature);
            }

            Assert.DoesNotContain(secret, File.ReadAllText(Path.Combine(workspace.Root, "playbook-state.db"), Encoding.Latin1), StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Theory]
    [InlineData("not-a-secret")]
    [InlineData("whsec_")]
    [InlineData("whsec_!!!notbase64")]
    [InlineData("whsec_c2hvcnQ=")]
    public async Task A_secret_that_is_not_a_whsec_secret_of_16_bytes_or_more_sends_nothing(string secret)
    {
        var requests = 0;
        using var server = new JsonApiServer(_ =>
        {
            Interlocked.Increment(ref requests);
            return (200, "{}", null);
        });
        using var workspace = Workspace(server.Url("/hook"), secret, "body: '{}'");
        var run = await TestEngine.RunAsync([workspace.Root], Day1, new FixedTimeProvider(Day1));
        Assert.False(run.Success);
        Assert.All(run.Actions, a => Assert.Contains("is not a whsec_ secret", a.Message, StringComparison.Ordinal));
        Assert.Equal(0, requests);
    }

    [Fact]
    public void A_playbook_cannot_set_the_signature_header_itself()
    {
        using var workspace = Workspace("http://127.0.0.1:9/hook", "whsec_" + Convert.ToBase64String(new byte[32]), "body: '{}'\n        headers: { webhook-signature: \"v1,forged\" }");
        var result = TestEngine.Validate([workspace.Root]);
        Assert.Contains(result.Diagnostics, d => d.Id == "PB3006" && d.Message.Contains("webhook-signature", StringComparison.Ordinal));
    }

    private static TempWorkspace Workspace(string url, string secret, string action)
    {
        var workspace = new TempWorkspace();
        workspace.Write("customers.csv", "id\nA\nB\n");
        workspace.Write("runner.yaml", $$"""
            sources:
              crm: { kind: csv, path: customers.csv, key: id, fields: { id: string } }
            channels:
              hook: { kind: webhook, url: "{{url}}", signing_secret: "{{secret}}" }
            execution: { max_attempts: 1 }
            """);
        workspace.Write("p.yaml", $"""
            playbook: p
            source: crm
            rules:
              - id: r
                when: "true"
                actions:
                  - type: webhook
                    channel: hook
                    {action}
            """);
        return workspace;
    }
}
