using System.Text.Json;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace PlaybookRunner.EndToEnd.Tests;

/// <summary>
/// How PlaybookRunner fits .NET and CI: the dotnet tool package, <c>playbook init</c>, the schemas in the
/// real yaml-language-server, SARIF in the Microsoft SARIF multitool, the problem matcher and the example workflow.
/// </summary>
public sealed class EcosystemTests
{
    private static (int Code, string Out, string Err) Exec(string file, IEnumerable<string> args, string? workingDirectory = null) =>
        ProcessRunner.Run(file, args, workingDirectory);

    private static (int Code, string Out, string Err) NpmTool(params string[] args) =>
        Exec("bash", [Path.Combine(CliRunner.RepoRoot, "tests", "scripts", "npm-tools.sh"), .. args]);

    [Fact]
    public void The_packed_dotnet_tool_installs_and_runs_with_its_plugins()
    {
        using var dir = new TempDir();
        var packages = Path.Combine(dir.Root, "nupkg");
        // Pack what this test run already built (pack defaults to Release; the tests may run on Debug).
        var configuration = AppContext.BaseDirectory.Replace('\\', '/').Contains("/bin/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        var pack = Exec("dotnet", ["pack", Path.Combine(CliRunner.RepoRoot, "src", "PlaybookRunner.Cli"), "--no-build", "--no-restore", "-c", configuration, "-o", packages]);
        Assert.True(pack.Code == 0, pack.Out + pack.Err);
        Assert.True(File.Exists(Path.Combine(packages, "PlaybookRunner.Cli.0.1.0.nupkg")));

        var tools = Path.Combine(dir.Root, "tools");
        var install = Exec("dotnet", ["tool", "install", "--tool-path", tools, "--add-source", packages, "PlaybookRunner.Cli"], dir.Root);
        Assert.True(install.Code == 0, install.Out + install.Err);
        var playbook = Path.Combine(tools, "playbook");
        Assert.StartsWith("0.1.0", Exec(playbook, ["--version"]).Out, StringComparison.Ordinal);
        Assert.Equal((0, "Validated 3 playbook(s), 8 rule(s): 0 error(s), 0 warning(s)\n"), Exec(playbook, ["validate", "playbooks/"]) is var v ? (v.Code, v.Out) : default);

        // The http-json plugin travels in the package: a source of that kind binds.
        File.WriteAllText(Path.Combine(dir.Root, "p.yaml"), """
            playbook: p
            source: { kind: http-json, url: "http://127.0.0.1:9/customers", items: data, key: id, fields: { id: string } }
            rules:
              - { id: r, when: "true" }
            """);
        var plugin = Exec(playbook, ["validate", dir.Root]);
        Assert.Equal((0, ""), (plugin.Code, plugin.Err));

        RunsRealActions(playbook);
    }

    /// <summary>The installed tool executes real actions: a webhook to an HTTP listener, an email to an SMTP server, a file; a saved plan; and a daemon tick.</summary>
    private static void RunsRealActions(string playbook)
    {
        using var smtp = new SmtpServer();
        using var hook = new JsonApiServer(_ => (200, "{}", null));
        using var ws = new TempDir();
        ws.Write("d.csv", "id,name\nA,Acme\nB,Bolt\n");
        ws.Write("runner.yaml", $$"""
            channels:
              default: { kind: smtp, host: 127.0.0.1, port: {{smtp.Port}}, from: cs@example.com, tls: none }
              tasks: { kind: webhook, url: "{{hook.Url("/tasks")}}" }
            """);
        ws.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, name: string } }
            rules:
              - id: r
                when: id == "A"
                actions:
                  - { type: file, path: out.jsonl, body: "{{ name }}" }
                  - { type: webhook, channel: tasks, body: '{"name": "{{ name }}"}' }
                  - { type: email, to: owner@example.com, subject: "Call {{ name }}", body: "Call {{ name }} today" }
            """);

        var run = Exec(playbook, ["run", "--create-store", ws.Root, "--as-of", "2026-03-02T09:00:00Z"]);
        Assert.True(run.Code == 0, run.Out + run.Err);
        Assert.Contains("3 actions succeeded, 0 failed", run.Out, StringComparison.Ordinal);
        Assert.Contains("\"body\":\"Acme\"", File.ReadAllText(Path.Combine(ws.Root, "out.jsonl")), StringComparison.Ordinal);
        Assert.Single(hook.Requests, r => r.Url.EndsWith("/tasks", StringComparison.Ordinal));
        Assert.Contains("Subject: Call Acme", Assert.Single(smtp.Messages()), StringComparison.Ordinal);

        // A saved plan, applied by the installed tool: exactly its actions, and not twice.
        var saved = Path.Combine(ws.Root, "reviewed.plan.json");
        var plan = Exec(playbook, ["plan", ws.Root, "--as-of", "2026-03-03T09:00:00Z", "--format", "json", "--out", saved]);
        Assert.True(plan.Code == 0, plan.Out + plan.Err);
        var apply = Exec(playbook, ["run", "--create-store", ws.Root, "--plan", saved]);
        Assert.True(apply.Code == 0, apply.Out + apply.Err);
        Assert.Contains("Run as of 2026-03-03T09:00:00+00:00: 3 actions succeeded, 0 failed", apply.Out, StringComparison.Ordinal);
        Assert.Contains("0 actions succeeded", Exec(playbook, ["run", "--create-store", ws.Root, "--plan", saved]).Out, StringComparison.Ordinal);
        Assert.Equal(2, hook.Requests.Count);
        Assert.Equal(2, smtp.Messages().Count);

        // One daemon tick, through the installed tool's worker: B fires every second, and is recorded once.
        ws.Write("q.yaml", """
            playbook: q
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, name: string } }
            schedule: "* * * * * *"
            rules:
              - { id: s, when: id == "B", cooldown: 1y, actions: [ { type: webhook, channel: tasks, body: '{"tick": "{{ id }}"}' } ] }
            """);
        var info = new System.Diagnostics.ProcessStartInfo(playbook) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "daemon", ws.Root, "--listen", "none", "--poll", "1", "--create-store" })
        {
            info.ArgumentList.Add(argument);
        }

        using var daemon = System.Diagnostics.Process.Start(info)!;
        var log = new System.Text.StringBuilder();
        daemon.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        daemon.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        daemon.BeginOutputReadLine();
        daemon.BeginErrorReadLine();
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (hook.Requests.Count < 3 && clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                Thread.Sleep(200);
            }

            Thread.Sleep(2500);
        }
        finally
        {
            daemon.Kill(entireProcessTree: true);
            daemon.WaitForExit(10_000);
        }

        lock (log)
        {
            Assert.True(hook.Requests.Count == 3, log.ToString());
            Assert.Contains("ticks are evaluated in a worker process", log.ToString(), StringComparison.Ordinal);
        }

        // This round's delivery, through the installed tool: the owner as sender with a blind copy, one digest per owner,
        // and a resolution once a customer is back in touch.
        using var lifecycle = new TempDir();
        lifecycle.Write("d.csv", "id,name,owner,silent\nA,Acme,ann@example.com,true\nC,Castor,ann@example.com,true\n");
        lifecycle.Write("runner.yaml", $$$"""
            sources:
              crm: { kind: csv, path: d.csv, key: id, fields: { id: string, name: string, owner: string, silent: bool } }
            channels:
              default: { kind: smtp, host: 127.0.0.1, port: {{{smtp.Port}}}, from: cs@example.com, tls: none }
            digests:
              roundup:
                group_by: "{{ owner }}"
                action: { type: email, to: "{{ group }}", subject: "{{ findings.size }} silent accounts", body: "{{ for f in findings }}{{ f.key }} {{ end }}" }
            """);
        lifecycle.Write("p.yaml", """
            playbook: p
            source: crm
            rules:
              - id: silent
                when: silent
                digests: [roundup]
                actions:
                  - { type: email, from: "{{ owner }}", to: "{{ owner }}", bcc: log@example.com, subject: "Call {{ name }}", body: "Call {{ name }}" }
                on_resolve:
                  actions: [ { type: email, to: "{{ owner }}", subject: "Resolved: {{ name }}", body: "{{ name }} is back in touch" } ]
            """);
        var before = smtp.Messages().Count;
        var first = Exec(playbook, ["run", "--create-store", lifecycle.Root, "--as-of", "2026-03-02T09:00:00Z"]);
        Assert.True(first.Code == 0, first.Out + first.Err);
        Assert.Contains("3 actions succeeded, 0 failed", first.Out, StringComparison.Ordinal);
        var sent = smtp.Messages().Skip(before).ToList();
        Assert.Single(sent, m => m.Contains("Subject: 2 silent accounts", StringComparison.Ordinal) && m.Contains("A C", StringComparison.Ordinal));
        Assert.Equal(2, smtp.Envelopes().Skip(before).Count(e => e.StartsWith("MAIL FROM: ann@example.com\n", StringComparison.Ordinal) && e.Contains("RCPT TO: log@example.com", StringComparison.Ordinal)));

        lifecycle.Write("d.csv", "id,name,owner,silent\nA,Acme,ann@example.com,false\nC,Castor,ann@example.com,true\n");
        var second = Exec(playbook, ["run", lifecycle.Root, "--as-of", "2026-03-03T09:00:00Z"]);
        Assert.True(second.Code == 0, second.Out + second.Err);
        Assert.Contains("3 actions succeeded, 0 failed", second.Out, StringComparison.Ordinal);
        Assert.Single(smtp.Messages().Skip(before + 3), m => m.Contains("Subject: Resolved: Acme", StringComparison.Ordinal));
    }

    [Fact]
    public void Init_scaffolds_a_workspace_that_validates_plans_and_passes_its_tests()
    {
        using var dir = new TempDir();
        var (code, stdout, _) = CliRunner.Run("init", dir.Root);
        Assert.Equal(0, code);
        Assert.StartsWith("created playbooks/runner.yaml\ncreated playbooks/stay-in-touch.yaml\ncreated playbooks/stay-in-touch.test.yaml\ncreated playbooks/data/customers.csv\ncreated schema/playbook.schema.json\n", stdout.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        var playbooks = Path.Combine(dir.Root, "playbooks");

        Assert.Equal("Validated 1 playbook(s), 2 rule(s): 0 error(s), 0 warning(s)\n", CliRunner.Run("validate", playbooks).Out.ReplaceLineEndings("\n"));
        var plan = CliRunner.Run("plan", playbooks);
        Assert.Equal(0, plan.ExitCode);
        Assert.EndsWith("Summary: 6 records, 3 findings, 3 actions pending, 0 suppressed, 0 held back, 0 errors\n", plan.Out.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        var test = CliRunner.Run("test", playbooks, "--coverage");
        Assert.Equal(0, test.ExitCode);
        Assert.Contains("Tests: 2 passed, 0 failed\nCoverage: 2 of 2 rules have a test\n", test.Out.ReplaceLineEndings("\n"), StringComparison.Ordinal);

        var again = CliRunner.Run("init", dir.Root);
        Assert.Equal(1, again.ExitCode);
        Assert.StartsWith($"playbook: error PB1024: {dir.Root} already has playbooks/runner.yaml, playbooks/stay-in-touch.yaml,", again.Err, StringComparison.Ordinal);
        Assert.Equal(0, CliRunner.Run("init", dir.Root, "--force").ExitCode);
    }

    [Fact]
    public void Yaml_language_server_accepts_every_example_and_the_scaffold_and_rejects_a_broken_playbook_at_its_token()
    {
        using var dir = new TempDir();
        Assert.Equal(0, CliRunner.Run("init", dir.Root).ExitCode);
        var schema = Path.Combine(CliRunner.RepoRoot, "schema", "playbook.schema.json");
        var broken = dir.Write("broken.yaml", $"# yaml-language-server: $schema={schema}\nplaybook: x\nsource: crm\nrules:\n  - {{ id: r, when: \"n > 1\", severity: urgent }}\n");
        var files = Directory.EnumerateFiles(CliRunner.Playbooks, "*.yaml")
            .Concat(Directory.EnumerateFiles(Path.Combine(dir.Root, "playbooks"), "*.yaml"))
            .Append(broken)
            .Order(StringComparer.Ordinal)
            .ToList();

        // Each file names its schema; the modeline must point at a schema that exists, or the server would check nothing.
        foreach (var file in files)
        {
            var modeline = Regex.Match(File.ReadLines(file).First(), @"^# yaml-language-server: \$schema=(.+)$");
            Assert.True(modeline.Success, file);
            Assert.True(File.Exists(Path.GetFullPath(modeline.Groups[1].Value, Path.GetDirectoryName(file)!)), file);
        }

        var (code, stdout, stderr) = NpmTool(["node", Path.Combine(CliRunner.RepoRoot, "tests", "tools", "yaml-ls-check.mjs"), .. files]);
        Assert.True(code == 0, stderr);
        var results = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToDictionary(r => r.GetProperty("file").GetString()!);
        Assert.Equal(files.Count, results.Count);
        foreach (var file in files)
        {
            var result = results[file];
            Assert.True(result.GetProperty("received").GetBoolean(), file);
            var diagnostics = result.GetProperty("diagnostics").EnumerateArray().Select(d => $"({d.GetProperty("line").GetInt32()},{d.GetProperty("column").GetInt32()}) {d.GetProperty("message").GetString()}").ToList();
            Assert.Equal(file == broken ? ["(5,39) Value is not accepted. Valid values: \"info\", \"warning\", \"critical\"."] : [], diagnostics);
        }
    }

    [Fact]
    public void Sarif_output_passes_the_sarif_multitool()
    {
        using var dir = new TempDir();
        dir.Write("d.csv", "id\nA\n");
        dir.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: nope > 1, severity: urgent }\n  - { id: s, wen: \"true\" }\n");
        var (code, sarif, _) = CliRunner.Run("validate", dir.Root, "--format", "sarif");
        Assert.Equal(1, code);
        var log = dir.Write("p.sarif", sarif);
        // The three schema errors (a bad severity, an unknown key, a missing when) and, in the same pass, the C# error.
        Assert.Equal(4, JsonDocument.Parse(sarif).RootElement.GetProperty("runs")[0].GetProperty("results").GetArrayLength());

        var report = Path.Combine(dir.Root, "validation.sarif");
        var (toolCode, toolOut, toolErr) = NpmTool("node", Path.Combine(CliRunner.RepoRoot, "tests", "tools", "node_modules", "@microsoft", "sarif-multitool", "bin.js"),
            "validate", log, "--output", report);
        Assert.True(toolCode == 0, toolOut + toolErr);
        var findings = JsonDocument.Parse(File.ReadAllText(report)).RootElement.GetProperty("runs")[0].GetProperty("results").EnumerateArray()
            .Select(r => $"{r.GetProperty("ruleId").GetString()}: {r.GetProperty("message")}").ToList();
        Assert.Equal([], findings);
    }

    [Fact]
    public void The_problem_matcher_reads_the_diagnostic_lines()
    {
        using var matcher = JsonDocument.Parse(File.ReadAllText(Path.Combine(CliRunner.RepoRoot, ".github", "playbook-problem-matcher.json")));
        var patterns = matcher.RootElement.GetProperty("problemMatcher").EnumerateArray().Select(m => m.GetProperty("pattern")[0]).ToList();
        var located = new Regex(patterns[0].GetProperty("regexp").GetString()!);
        var global = new Regex(patterns[1].GetProperty("regexp").GetString()!);

        using var dir = new TempDir();
        dir.Write("d.csv", "id\nA\n");
        dir.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, wen: \"true\" }\n");
        var line = CliRunner.Run("validate", dir.Root).Out.Split('\n')[0];
        var match = located.Match(line);
        Assert.True(match.Success, line);
        Assert.Equal(
            (TempDir.Display(Path.Combine(dir.Root, "p.yaml")), "4", "5", "error", "PB1003"),
            (match.Groups[patterns[0].GetProperty("file").GetInt32()].Value, match.Groups[patterns[0].GetProperty("line").GetInt32()].Value,
             match.Groups[patterns[0].GetProperty("column").GetInt32()].Value, match.Groups[patterns[0].GetProperty("severity").GetInt32()].Value,
             match.Groups[patterns[0].GetProperty("code").GetInt32()].Value));

        var noFile = CliRunner.Run("validate", "/no/such/folder").Out.Split('\n')[0];
        Assert.DoesNotMatch(located, noFile);
        Assert.Equal("PB1018", global.Match(noFile).Groups[patterns[1].GetProperty("code").GetInt32()].Value);
    }

    [Fact]
    public void Every_playbook_command_in_the_example_workflow_parses()
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(Path.Combine(CliRunner.RepoRoot, ".github", "workflows", "playbooks.yml")))
        {
            yaml.Load(reader);
        }

        var steps = (YamlSequenceNode)((YamlMappingNode)((YamlMappingNode)((YamlMappingNode)yaml.Documents[0].RootNode)["jobs"])["playbooks"])["steps"];
        var commands = steps.Children.Cast<YamlMappingNode>()
            .Where(s => s.Children.ContainsKey("run"))
            .SelectMany(s => ((YamlScalarNode)s["run"]).Value!.Split('\n'))
            .Select(l => l.Trim())
            .Where(l => l.StartsWith("playbook ", StringComparison.Ordinal))
            .ToList();
        Assert.Equal(8, commands.Count);
        var root = PlaybookRunner.Cli.CliApp.BuildRoot(TextWriter.Null, TextWriter.Null, TestEngine.Options());
        foreach (var command in commands)
        {
            var words = Regex.Matches(command.Split(" >", 2)[0].Split(" ||", 2)[0], "\"[^\"]*\"|\\S+").Select(m => m.Value.Trim('"')).Skip(1).ToArray();
            var parsed = root.Parse(words);
            Assert.True(parsed.Errors.Count == 0, $"{command}: {string.Join("; ", parsed.Errors.Select(e => e.Message))}");
        }
    }
}
