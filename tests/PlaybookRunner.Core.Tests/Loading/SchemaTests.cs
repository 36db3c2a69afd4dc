using System.Text.Json;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Loading;
using PlaybookRunner.Core.Yaml;

namespace PlaybookRunner.Core.Tests.Loading;

/// <summary>The published schemas and the loader accept the same documents.</summary>
public sealed class SchemaTests
{
    [Theory]
    [InlineData("playbook.schema.json")]
    [InlineData("runner.schema.json")]
    [InlineData("suppressions.schema.json")]
    [InlineData("tests.schema.json")]
    public void Embedded_schema_is_the_published_file(string name)
    {
        var published = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "schema", name))).RootElement;
        Assert.Equal("https://json-schema.org/draft/2020-12/schema", published.GetProperty("$schema").GetString());
        Assert.Equal(published.GetRawText(), YamlSchemaValidator.ForEmbedded(name).Schema.GetRawText());
    }

    [Fact]
    public void Every_example_passes_the_schema_and_loads()
    {
        var files = Directory.EnumerateFiles(TestPaths.Playbooks, "*.yaml").Order(StringComparer.Ordinal).ToList();
        Assert.Contains(files, f => f.EndsWith("runner.yaml", StringComparison.Ordinal));
        foreach (var file in files)
        {
            var diagnostics = new DiagnosticBag();
            var node = YamlTreeReader.ReadFile(file, diagnostics)!;
            var schema = Path.GetFileName(file) switch
            {
                "runner.yaml" => "runner.schema.json",
                "suppressions.yaml" => "suppressions.schema.json",
                var name when name.EndsWith(".test.yaml", StringComparison.Ordinal) => "tests.schema.json",
                _ => "playbook.schema.json",
            };
            Assert.True(YamlSchemaValidator.ForEmbedded(schema).Validate(node, diagnostics), file);
            Assert.StartsWith("# yaml-language-server: $schema=../schema/", File.ReadLines(file).First(), StringComparison.Ordinal);
        }

        var workspace = WorkspaceLoader.Load([TestPaths.Playbooks], TestEngine.Host(), new DiagnosticBag());
        Assert.Equal(["key-client-care", "nps-follow-up", "ticket-escalation"], workspace!.Playbooks.Select(p => p.Id));
    }

    [Fact]
    public void A_playbook_using_every_key_loads_every_value()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("runner.yaml", $$$"""
            timezone: Europe/Paris
            sources:
              crm:
                kind: csv
                path: data.csv
                key: id
                timezone: America/New_York
                on_bad_row: skip
                delimiter: ";"
                fields: { id: string, total: { type: "decimal?", column: Total } }
            channels:
              default: { kind: smtp, host: 127.0.0.1, port: 2525, from: a@example.com, tls: none }
              hook: { kind: webhook, url: "http://127.0.0.1:1/x", headers: { X-A: b } }
            state: { kind: sqlite, path: state.db }
            plugins: [ "{{{TestOperatorSettings.PluginFolder}}}" ]
            severity_overrides: { p/r: critical }
            """);
        var file = workspace.Write("p.yaml", """
            playbook: p
            title: T
            description: D
            timezone: Europe/London
            schedule: "0 8 * * MON-FRI"
            source: crm
            let: { big: Max(c => c.total) }
            segments: { has_total: total != null }
            rules:
              - id: r
                title: RT
                description: RD
                severity: info
                when: has_total
                cooldown: 6mo
                schedule: "0 0 9 1 * *"
                message: "{{ id }}"
                actions:
                  - { type: email, to: x@example.com, cc: y@example.com, subject: s, body: b, html: true, channel: default }
                  - { type: webhook, channel: hook, body: "{}", headers: { X-B: c } }
                  - { type: webhook, url: "http://127.0.0.1:1/y", body: "{}" }
                  - { type: file, path: out.jsonl, body: b }
            """);
        var diagnostics = new DiagnosticBag();
        var loaded = WorkspaceLoader.Load([file], TestEngine.Host(), diagnostics);
        Assert.Empty(diagnostics.Items);
        var playbook = Assert.Single(loaded!.Playbooks);
        Assert.Equal(("p", "T", "D", "Europe/London", "0 8 * * MON-FRI"), (playbook.Id, playbook.Title, playbook.Description, playbook.TimeZoneId, playbook.Schedule!.Text));
        Assert.Equal(("crm", "America/New_York", Core.Model.BadRowPolicy.Skip, ";"), (playbook.Source.Name, playbook.Source.TimeZoneId, playbook.Source.OnBadRow, playbook.Source.Option("delimiter")));
        Assert.Equal("Total", playbook.Source.Fields[1].Column);
        var rule = Assert.Single(playbook.Rules);
        Assert.Equal(("r", "RT", "RD", Core.Model.Severity.Info, 6, "0 0 9 1 * *"), (rule.Id, rule.Title, rule.Description, rule.Severity, rule.Cooldown!.Value.Months, rule.Schedule!.Text));
        Assert.Equal(["email", "webhook", "webhook", "file"], rule.Actions.Select(a => a.Type));
        Assert.Equal(["to", "cc", "subject", "body", "html", "channel"], rule.Actions[0].Fields.Select(f => f.Name));
        Assert.Equal("X-B", rule.Actions[1].Field("headers")!.Children![0].Name);
        Assert.Equal(("sqlite", "state.db"), (loaded.State.Kind, loaded.State.Settings["path"]));
        Assert.Equal(TestOperatorSettings.PluginFolder, Assert.Single(loaded.PluginFolders));
        Assert.Equal("critical", loaded.SeverityOverrides["p/r"]);
        Assert.Equal("webhook", loaded.Channels["hook"].Kind);
    }
}

/// <summary>Invalid samples fail both the schema on its own and the loader.</summary>
public sealed class SchemaRejectionTests
{
    // Shape errors only: durations of zero, action types (plugins may add them) and references are the loader's.
    private static readonly string[] ShapeIds = ["PB1002", "PB1003", "PB1004", "PB1005", "PB1006", "PB1015", "PB1016"];

    public static TheoryData<string> ShapeCases()
    {
        var data = new TheoryData<string>();
        foreach (var golden in Directory.EnumerateFiles(TestPaths.Cases, "*.diagnostics.txt", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var lines = File.ReadAllLines(golden);
            var ids = lines.Select(l => l.Split(": ")[1].Split(' ')[1]).ToList();
            if (lines.Any(l => l.Contains("for action type;", StringComparison.Ordinal)))
            {
                continue;
            }

            if (ids.Count > 0 && ids.All(ShapeIds.Contains) && !golden.Contains("merge-key", StringComparison.Ordinal))
            {
                data.Add(Path.GetRelativePath(TestPaths.Cases, golden).Replace(".diagnostics.txt", ".yaml", StringComparison.Ordinal));
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ShapeCases))]
    public void Shape_errors_fail_the_schema_alone_and_the_loader(string relativePath)
    {
        var file = Path.Combine(TestPaths.Cases, relativePath);
        var diagnostics = new DiagnosticBag();
        var node = YamlTreeReader.ReadFile(file, diagnostics);
        Assert.NotNull(node);
        Assert.False(YamlSchemaValidator.ForEmbedded("playbook.schema.json").Validate(node, diagnostics));
        Assert.False(TestEngine.Validate([file]).Success);
    }

    [Fact]
    public void There_are_at_least_twelve_shape_cases() => Assert.InRange(ShapeCases().Cast<object[]>().Count(), 12, 1000);
}
