using System.Collections.Concurrent;
using System.Text.Json;

namespace PlaybookRunner.Cli.Tests.Commands;

/// <summary>
/// The plan is a promise (docs/execution.md, "Saved plans"): <c>plan --format json --out</c> records what it
/// was made from, <c>run --plan</c> executes exactly its actions against the real HTTP listener, SMTP server and
/// SQLite or PostgreSQL store, refuses a workspace that changed, re-checks cooldowns, and <c>run --rule/--key</c>
/// executes a subset.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class SavedPlanTests(PostgresServer postgres)
{
    private const string AsOf = "2026-03-02T09:00:00Z";

    private sealed class Sinks : IDisposable
    {
        public JsonApiServer Http { get; }

        public SmtpServer Smtp { get; } = new();

        public ConcurrentQueue<string> Hooks { get; } = new();

        public Sinks()
        {
            Http = new JsonApiServer(request =>
            {
                using var reader = new StreamReader(request.InputStream);
                Hooks.Enqueue(JsonDocument.Parse(reader.ReadToEnd()).RootElement.GetProperty("id").GetString()!);
                return (200, "{}", null);
            });
        }

        public void Dispose()
        {
            Http.Dispose();
            Smtp.Dispose();
        }
    }

    private static string Workspace(TempDir dir, Sinks sinks, string state = "")
    {
        dir.Write("d.csv", "id,n\nA,5\nB,6\nC,1\n");
        dir.Write("runner.yaml", $$"""
            channels:
              default: { kind: smtp, host: 127.0.0.1, port: {{sinks.Smtp.Port}}, from: cs@example.com, tls: none }
              hook: { kind: webhook, url: "{{sinks.Http.Url("/hook")}}" }
            execution: { max_attempts: 1 }
            {{state}}
            """);
        dir.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }
            rules:
              - id: busy
                when: n > 3
                cooldown: 30d
                actions:
                  - { type: webhook, channel: hook, body: '{"id": "{{ id }}"}' }
                  - { type: email, to: owner@example.com, subject: "Call {{ id }}", body: "Call {{ id }}" }
            """);
        return dir.Root;
    }

    [Fact]
    public void A_saved_plan_records_engine_as_of_file_digests_source_digests_and_the_git_commit()
    {
        using var sinks = new Sinks();
        using var dir = new TempDir();
        var root = Workspace(dir, sinks);
        Git(root, "init", "-q");
        Git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "x");
        var head = Git(root, "rev-parse", "HEAD").Trim();
        var file = Path.Combine(root, "reviewed.plan.json");

        var (code, _, stderr) = CliRunner.Run("plan", root, "--as-of", AsOf, "--format", "json", "--out", file);

        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(File.ReadAllText(file));
        var provenance = json.RootElement.GetProperty("provenance");
        Assert.Equal("2026-03-02T09:00:00+00:00", provenance.GetProperty("asOf").GetString());
        Assert.Matches("^\\d+\\.\\d+\\.\\d+", provenance.GetProperty("engine").GetString());
        Assert.Equal(head, provenance.GetProperty("gitCommit").GetString());
        Assert.StartsWith("sha256:", provenance.GetProperty("workspace").GetProperty("digest").GetString(), StringComparison.Ordinal);
        Assert.Equal(["p.yaml", "runner.yaml"], provenance.GetProperty("workspace").GetProperty("files").EnumerateObject().Select(p => p.Name));
        Assert.Equal(
            "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(root, "d.csv")))),
            provenance.GetProperty("sources").EnumerateObject().Single().Value.GetString());
        Assert.Equal(File.ReadAllText(file), CliRunner.Run("plan", root, "--as-of", AsOf, "--format", "json").Out);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Run_plan_executes_exactly_the_reviewed_actions_once_even_when_the_data_moved_on(string store)
    {
        using var sinks = new Sinks();
        using var dir = new TempDir();
        var root = Workspace(dir, sinks, store == "postgres" ? $"state: {{ kind: postgres, connection: \"{postgres.CreateDatabase("pbsaved")}\" }}" : "");
        var file = Path.Combine(root, "reviewed.plan.json");
        Assert.Equal(0, CliRunner.Run("plan", root, "--as-of", AsOf, "--format", "json", "--out", file).ExitCode);
        dir.Write("d.csv", "id,n\nA,5\nB,6\nC,9\nD,7\n");

        var (code, stdout, stderr) = CliRunner.Run("run", "--create-store", root, "--plan", file);

        Assert.True(code == 0, stdout + stderr);
        Assert.Equal(["A", "B"], sinks.Hooks.Order(StringComparer.Ordinal));
        Assert.Equal(2, sinks.Smtp.Messages().Count);
        Assert.Contains("warning PB1038: Saved plan: source '", stderr, StringComparison.Ordinal);
        Assert.Contains("Run as of 2026-03-02T09:00:00+00:00: 4 actions succeeded", stdout, StringComparison.Ordinal);
        var history = CliRunner.Run("history", root).Out;
        Assert.Contains("p/busy  A  #0 webhook", history, StringComparison.Ordinal);
        Assert.DoesNotContain("  C  ", history, StringComparison.Ordinal);

        // Applied again: the same idempotency keys, already delivered; nothing is sent twice.
        var again = CliRunner.Run("run", "--create-store", root, "--plan", file);
        Assert.True(again.ExitCode == 0, again.Out + again.Err);
        Assert.Equal(2, sinks.Hooks.Count);
        Assert.Contains("0 actions succeeded", again.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("p.yaml", "p.yaml (changed)")]
    [InlineData("runner.yaml", "runner.yaml (changed)")]
    [InlineData("q.yaml", "q.yaml (added)")]
    [InlineData("suppressions.yaml", "suppressions.yaml (added)")]
    public void Run_plan_refuses_a_workspace_that_no_longer_matches_and_executes_nothing(string edited, string named)
    {
        using var sinks = new Sinks();
        using var dir = new TempDir();
        var root = Workspace(dir, sinks);
        var file = Path.Combine(root, "reviewed.plan.json");
        Assert.Equal(0, CliRunner.Run("plan", root, "--as-of", AsOf, "--format", "json", "--out", file).ExitCode);
        switch (edited)
        {
            case "q.yaml":
                dir.Write("q.yaml", "playbook: q\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: \"true\" }\n");
                break;
            case "suppressions.yaml":
                dir.Write("suppressions.yaml", "suppressions:\n  - { rule: p/busy, key: A, justification: paused }\n");
                break;
            default:
                File.AppendAllText(Path.Combine(root, edited), "# edited after review\n");
                break;
        }

        var (code, stdout, stderr) = CliRunner.Run("run", "--create-store", root, "--plan", file);

        Assert.Equal(1, code);
        Assert.Contains($"error PB1037: Saved plan: the workspace no longer matches it: {named}; nothing was executed", stderr, StringComparison.Ordinal);
        Assert.Empty(sinks.Hooks);
        Assert.Empty(sinks.Smtp.Messages());
        Assert.DoesNotContain("Run as of", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{ not json", "error PB1036: Saved plan: not valid JSON")]
    [InlineData("{ \"hello\": 1 }", "error PB1036: Saved plan: it is JSON, but not a plan")]
    [InlineData("{ \"asOf\": \"2026-03-02T09:00:00+00:00\", \"findings\": [] }", "error PB1036: Saved plan: it has no provenance")]
    public void Run_plan_refuses_a_file_that_is_not_a_saved_plan(string content, string message)
    {
        using var sinks = new Sinks();
        using var dir = new TempDir();
        var root = Workspace(dir, sinks);
        var file = dir.Write("bad.plan.json", content);

        var (code, _, stderr) = CliRunner.Run("run", "--create-store", root, "--plan", file);

        Assert.Equal(1, code);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.Empty(sinks.Hooks);
        Assert.Equal(2, CliRunner.Run("run", "--create-store", root, "--plan", file, "--as-of", AsOf).ExitCode);
    }

    [Theory]
    [InlineData("url", false)]
    [InlineData("body", false)]
    [InlineData("extra finding", false)]
    [InlineData("asOf", false)]
    [InlineData("url", true)]
    [InlineData("headers", true)]
    [InlineData("extra action", true)]
    [InlineData("literal recipient", true)]
    public void Run_plan_refuses_a_plan_file_edited_after_plan_wrote_it(string edit, bool dataChanged)
    {
        using var sinks = new Sinks();
        using var dir = new TempDir();
        var root = Workspace(dir, sinks);
        var file = Path.Combine(root, "reviewed.plan.json");
        Assert.Equal(0, CliRunner.Run("plan", root, "--as-of", AsOf, "--format", "json", "--out", file).ExitCode);
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(file))!;
        var hook = json["findings"]![0]!["actions"]![0]!;
        switch (edit)
        {
            case "url":
                hook.AsObject().Remove("channel");
                hook["url"] = "http://127.0.0.1:1/elsewhere";
                break;
            case "body":
                hook["body"] = "{\"id\": \"A\", \"admin\": true}";
                break;
            case "extra finding":
                var extra = json["findings"]![0]!.DeepClone();
                extra["key"] = "Z";
                json["findings"]!.AsArray().Add(extra);
                break;
            case "asOf":
                json["asOf"] = "2026-03-02T09:00:01+00:00";
                break;
            case "headers":
                hook["headers"] = new System.Text.Json.Nodes.JsonObject { ["X-Extra"] = "1" };
                break;
            case "literal recipient":
                json["findings"]![0]!["actions"]![1]!["to"] = "someone-else@example.com";
                break;
            case "extra action":
                json["findings"]![0]!["actions"]!.AsArray().Add(hook.DeepClone());
                break;
        }

        File.WriteAllText(file, json.ToJsonString());
        if (dataChanged)
        {
            dir.Write("d.csv", "id,n\nA,5\nB,6\nC,1\nD,9\n");
        }

        var (code, stdout, stderr) = CliRunner.Run("run", "--create-store", root, "--plan", file);

        Assert.Equal(1, code);
        Assert.Matches("error PB103[67]: Saved plan: .*(changed after plan wrote it|the instant its provenance records)", stderr);
        Assert.Empty(sinks.Hooks);
        Assert.Empty(sinks.Smtp.Messages());
        Assert.DoesNotContain("Run as of", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_plan_reports_what_a_cooldown_now_holds_back_and_does_not_execute_it()
    {
        using var sinks = new Sinks();
        using var dir = new TempDir();
        var root = Workspace(dir, sinks);
        var file = Path.Combine(root, "reviewed.plan.json");
        Assert.Equal(0, CliRunner.Run("plan", root, "--as-of", AsOf, "--format", "json", "--out", file).ExitCode);
        Assert.Equal(0, CliRunner.Run("run", "--create-store", root, "--as-of", "2026-03-02T10:00:00Z", "--key", "A").ExitCode);
        Assert.Equal(["A"], sinks.Hooks);

        var (code, stdout, stderr) = CliRunner.Run("run", "--create-store", root, "--plan", file);

        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("warning PB5011: 1 finding(s) of the saved plan are now held back by a cooldown or suppressed, and were not executed: p/busy A (held back until 2026-04-01T10:00:00+00:00)", stderr, StringComparison.Ordinal);
        Assert.Equal(["A", "B"], sinks.Hooks.Order(StringComparer.Ordinal));
        Assert.Contains("1 held back", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Targeted_runs_execute_only_the_named_rules_and_keys_and_are_recorded()
    {
        using var sinks = new Sinks();
        using var dir = new TempDir();
        var root = Workspace(dir, sinks);

        var (code, stdout, stderr) = CliRunner.Run("run", "--create-store", root, "--as-of", AsOf, "--rule", "p/busy", "--key", "B", "--key", "Z");

        Assert.True(code == 0, stdout + stderr);
        Assert.Equal(["B"], sinks.Hooks);
        Assert.Contains("p/busy  B  #0 webhook", CliRunner.Run("history", root).Out, StringComparison.Ordinal);

        var unknown = CliRunner.Run("run", "--create-store", root, "--as-of", AsOf, "--rule", "p/bussy");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("error PB1039: --rule 'p/bussy': no such rule in the workspace; did you mean 'p/busy'?", unknown.Err, StringComparison.Ordinal);
        Assert.Equal(["B"], sinks.Hooks);

        // The rest of the plan still runs later; B's firing started its cooldown.
        Assert.Equal(0, CliRunner.Run("run", "--create-store", root, "--as-of", AsOf).ExitCode);
        Assert.Equal(["A", "B"], sinks.Hooks.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_bare_rule_id_that_two_playbooks_have_is_refused_with_the_choices()
    {
        using var sinks = new Sinks();
        using var dir = new TempDir();
        var root = Workspace(dir, sinks);
        dir.Write("q.yaml", "playbook: q\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }\nrules:\n  - { id: busy, when: n > 3, actions: [ { type: webhook, channel: hook, body: '{\"id\": \"q{{ id }}\"}' } ] }\n");

        var (code, _, stderr) = CliRunner.Run("run", "--create-store", root, "--as-of", AsOf, "--rule", "busy");

        Assert.Equal(1, code);
        Assert.Contains("error PB1039: --rule 'busy': no such rule in the workspace as one rule: 2 playbooks have it; name one of p/busy, q/busy", stderr, StringComparison.Ordinal);
        Assert.Empty(sinks.Hooks);
    }

    private static string Git(string folder, params string[] args)
    {
        var (code, stdout, stderr) = ProcessRunner.Run("git", args, folder);
        Assert.True(code == 0, $"git {string.Join(' ', args)}: {stderr}");
        return stdout;
    }
}
