using System.Collections.Concurrent;
using System.Text.Json;

namespace PlaybookRunner.Core.Tests.Execution;

/// <summary>
/// Customer data cannot steer an action (docs/security.md, "Customer data"): values written into a JSON
/// body add no keys, values in a webhook URL choose no host, values in a file path add no path segment.
/// Each class is attacked several ways and checked at the real sink (an HTTP listener, the file system).
/// </summary>
public sealed class DataSteeringTests
{
    private static readonly DateTimeOffset AsOf = DateTimeOffset.UnixEpoch;

    public static TheoryData<string> HostileNames() => new()
    {
        "Acme\", \"admin\": true, \"x\": \"",
        "Acme\\",
        "Acme\\\"}, {\"injected\": 1",
        "Line\nbreak\r\tand \u0001 control",
        "</script><b>bold</b> \u2028 \u2029",
        "{{ name }} ${env:PATH} 'single'",
    };

    private static string Csv(string name) => $"id,name,n\nA,\"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\",7\n";

    [Theory]
    [MemberData(nameof(HostileNames))]
    public async Task The_spec_webhook_example_without_json_escape_is_safe_as_written(string name)
    {
        var bodies = new ConcurrentQueue<string>();
        using var server = new JsonApiServer(request =>
        {
            using var reader = new StreamReader(request.InputStream);
            bodies.Enqueue(reader.ReadToEnd());
            return (200, "{}", null);
        });
        using var workspace = new TempWorkspace();
        workspace.Write("d.csv", Csv(name));
        var file = workspace.Write("p.yaml", $$$$"""
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, name: string, n: int } }
            rules:
              - id: r
                when: "true"
                actions:
                  - type: webhook
                    url: "{{{{server.Url("/hook")}}}}"
                    body: |
                      {"title": "Schedule a review with {{ name }}", "owner": "{{ name | string.upcase }}", "n": {{ n }}, "bare": {{ name }}, "none": {{ null }}, "list": {{ [name, n] }}}
            """);

        var run = await TestEngine.RunAsync([file], AsOf, new FixedTimeProvider(AsOf));

        Assert.True(run.Success, string.Join('\n', run.Diagnostics.Select(d => d.Message).Concat(run.Plan?.Errors.Select(e => e.Message) ?? [])));
        using var body = JsonDocument.Parse(Assert.Single(bodies));
        Assert.Equal(["title", "owner", "n", "bare", "none", "list"], body.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal("Schedule a review with " + name, body.RootElement.GetProperty("title").GetString());
        Assert.Equal(name.ToUpperInvariant(), body.RootElement.GetProperty("owner").GetString());
        Assert.Equal(7, body.RootElement.GetProperty("n").GetInt32());
        Assert.Equal(name, body.RootElement.GetProperty("bare").GetString());
        Assert.Equal(JsonValueKind.Null, body.RootElement.GetProperty("none").ValueKind);
        Assert.Equal(name, body.RootElement.GetProperty("list")[0].GetString());
    }

    [Theory]
    [InlineData("\"{{ name | json_escape }}\"")]
    [InlineData("\"{{ json_escape name }}\"")]
    [InlineData("{{ name }}")]
    public void Json_escape_in_existing_playbooks_is_not_applied_twice(string value)
    {
        var plan = PlanOne("Fenwick \"Q\" \\ Hale", $"{{\"name\": {value}}}", "webhook");
        using var body = JsonDocument.Parse(plan.Findings.Single().Actions.Single().Fields.Single(f => f.Name == "body").Text!);
        Assert.Equal("Fenwick \"Q\" \\ Hale", body.RootElement.GetProperty("name").GetString());
    }

    [Fact]
    public void Raw_json_is_an_explicit_choice_and_must_still_be_json()
    {
        var ok = PlanOne("{\"tier\": \"gold\", \"seats\": 12}", "{\"profile\": {{ name | raw }}}", "webhook");
        using var body = JsonDocument.Parse(ok.Findings.Single().Actions.Single().Fields.Single(f => f.Name == "body").Text!);
        Assert.Equal(12, body.RootElement.GetProperty("profile").GetProperty("seats").GetInt32());

        var bad = PlanOne("1, \"admin\": true", "{\"profile\": {{ name | raw }}, \"x\": }", "webhook");
        Assert.Empty(bad.Findings);
        Assert.Contains("webhook action 'body' is not valid JSON after rendering", Assert.Single(bad.Errors).Message, StringComparison.Ordinal);
    }

    public static TheoryData<string> HostileUrlParts() => new()
    {
        "../../admin",
        "...",
        "x?admin=1#frag",
        "@evil.example.com",
        "evil.example.com:80/",
        "%2e%2e/%2F",
        "a b\nHost: evil",
    };

    [Theory]
    [MemberData(nameof(HostileUrlParts))]
    public async Task A_value_in_a_webhook_url_stays_in_the_path_or_query_of_the_host_the_author_wrote(string id)
    {
        var urls = new ConcurrentQueue<string>();
        using var server = UrlRecorder(urls);
        using var workspace = new TempWorkspace();
        workspace.Write("d.csv", $"id,name,n\nK,\"{id.Replace("\"", "\"\"", StringComparison.Ordinal)}\",1\n");
        var file = workspace.Write("p.yaml", $$$"""
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, name: string, n: int } }
            rules:
              - id: r
                when: "true"
                actions:
                  - { type: webhook, url: "{{{server.Url("/hooks/")}}}{{ name }}?customer={{ name }}", body: "{}" }
            """);

        var run = await TestEngine.RunAsync([file], AsOf, new FixedTimeProvider(AsOf));

        Assert.True(run.Success, string.Join('\n', run.Actions.Select(a => a.Message).Concat(run.Plan?.Errors.Select(e => e.Message) ?? [])));
        var url = Assert.Single(urls);
        Assert.Equal($"/hooks/{Uri.EscapeDataString(id)}?customer={Uri.EscapeDataString(id)}", url);
    }

    [Theory]
    [InlineData(".")]
    [InlineData("..")]
    public async Task A_dot_segment_from_data_in_a_webhook_url_path_is_a_plan_error_and_never_sent(string id)
    {
        var urls = new ConcurrentQueue<string>();
        using var server = UrlRecorder(urls);
        using var workspace = new TempWorkspace();
        workspace.Write("d.csv", $"id\n{id}\n");
        var file = workspace.Write("p.yaml", $$$"""
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string } }
            rules:
              - id: r
                when: "true"
                actions:
                  - { type: webhook, url: "{{{server.Url("/hooks/")}}}{{ id }}", body: "{}" }
            """);

        var run = await TestEngine.RunAsync([file], AsOf, new FixedTimeProvider(AsOf));

        Assert.Contains("cannot be a '.' or '..' segment", Assert.Single(run.Plan!.Errors).Message, StringComparison.Ordinal);
        Assert.Empty(run.Actions);
        Assert.Empty(urls);
    }

    [Theory]
    [InlineData("http://{{ host }}/hook")]
    [InlineData("{{ url }}")]
    [InlineData("https://api.example.com{{ path }}")]
    [InlineData("https://api.example.com:{{ port }}/hook")]
    [InlineData("https://{{ tenant }}.example.com/hook")]
    public void A_webhook_url_whose_host_comes_from_data_is_a_validate_error(string url)
    {
        using var workspace = new TempWorkspace();
        var file = workspace.Write("p.yaml", $$"""
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, host: string, url: string, path: string, port: string, tenant: string } }
            rules:
              - id: r
                when: "true"
                actions:
                  - { type: webhook, url: "{{url}}", body: "{}" }
            """);

        var diagnostic = Assert.Single(TestEngine.Validate([file]).Diagnostics, d => d.IsError);
        Assert.Equal(("PB3005", 7), (diagnostic.Id, diagnostic.Location.Line));
        Assert.Contains("must fix its scheme, host and port before its first template value", diagnostic.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(".git/hooks/post-checkout", "inside a .git folder")]
    [InlineData(".git/{{ id }}.jsonl", "inside a .git folder")]
    [InlineData("p.yaml", "is a YAML file")]
    [InlineData("d.csv", "a file the workspace reads")]
    [InlineData("../{{ id }}.jsonl", "outside the workspace root")]
    public void A_file_action_path_the_author_wrote_must_be_an_output_file(string path, string why)
    {
        using var workspace = new TempWorkspace();
        workspace.Write("d.csv", "id\nA\n");
        var file = workspace.Write("p.yaml", $$"""
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string } }
            rules:
              - id: r
                when: "true"
                actions:
                  - { type: file, path: "{{path}}", body: x }
            """);

        var diagnostic = Assert.Single(TestEngine.Validate([file]).Diagnostics, d => d.IsError);
        Assert.Equal(("PB1030", 7), (diagnostic.Id, diagnostic.Location.Line));
        Assert.Contains(why, diagnostic.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../../x", "outside the workspace root")]
    [InlineData(".git/config", "inside a .git folder")]
    [InlineData("p.yaml", "is a YAML file")]
    [InlineData("d.csv", "a file the workspace reads")]
    [InlineData("playbook-state.db-journal", "a file the workspace reads")]
    [InlineData("playbook-state.db-wal", "a file the workspace reads")]
    [InlineData("playbook-state.db-shm", "a file the workspace reads")]
    [InlineData("runner.yaml/x.jsonl", "is a YAML file")]
    public async Task A_raw_path_from_data_still_obeys_the_output_rule_in_plan_and_run(string id, string why)
    {
        using var workspace = new TempWorkspace();
        workspace.Write("d.csv", $"id\n{id}\nok.jsonl\n");
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string } }
            rules:
              - id: r
                when: "true"
                actions:
                  - { type: file, path: "{{ id | raw }}", body: x }
            """);
        var before = File.ReadAllText(file);

        var run = await TestEngine.RunAsync([file], AsOf, new FixedTimeProvider(AsOf));

        var error = Assert.Single(run.Plan!.Errors);
        Assert.Equal(id, error.Key);
        Assert.Contains(why, error.Message, StringComparison.Ordinal);
        Assert.Equal(["ok.jsonl"], run.Actions.Where(a => a.Succeeded).Select(a => a.Key));
        Assert.Equal(before, File.ReadAllText(file));
        Assert.Equal("id\n" + id + "\nok.jsonl\n", File.ReadAllText(Path.Combine(workspace.Root, "d.csv")));
    }

    /// <summary>A real HTTP listener that records the path and query of every request.</summary>
    private static JsonApiServer UrlRecorder(ConcurrentQueue<string> urls) => new(request =>
    {
        urls.Enqueue(request.RawUrl ?? "");
        return (200, "{}", null);
    });

    [Fact]
    public void A_list_written_into_a_json_body_obeys_the_loop_limit()
    {
        var plan = PlanOne("x", "{\"a\": {{ 1..5000 }}}", "webhook");
        Assert.Empty(plan.Findings);
        var message = Assert.Single(plan.Errors).Message;
        Assert.True(message.Contains("1000", StringComparison.Ordinal), message); // Scriban's own range limit, or the JSON list limit
    }

    [Fact]
    public void A_backslash_the_template_writes_before_a_value_cannot_join_the_value_into_an_escape()
    {
        var plan = PlanOne("role", "{\"a\": \"\\{{ name }}\", \"b\": 1}", "webhook");
        Assert.Empty(plan.Findings);
        Assert.Contains("would escape the value's first character", Assert.Single(plan.Errors).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("headers: { Host: \"{{ name }}.example\" }", "Header 'Host' is set by the HTTP client or the engine")]
    [InlineData("headers: { transfer-encoding: chunked }", "Header 'transfer-encoding' is set by the HTTP client or the engine")]
    [InlineData("headers: { Idempotency-Key: \"{{ name }}\" }", "Header 'Idempotency-Key' is set by the HTTP client or the engine")]
    public void Headers_that_frame_or_route_the_request_cannot_be_set(string headers, string message)
    {
        using var workspace = new TempWorkspace();
        workspace.Write("runner.yaml", "channels:\n  tasks: { kind: webhook, url: \"http://127.0.0.1:9/x\", headers: { Content-Length: \"1\" } }\n");
        var file = workspace.Write("p.yaml", $$"""
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, name: string } }
            rules:
              - id: r
                when: "true"
                actions:
                  - { type: webhook, channel: tasks, {{headers}}, body: "{}" }
            """);

        var errors = TestEngine.Validate([file]).Diagnostics.Where(d => d.IsError).ToList();
        Assert.Contains(errors, d => d.Id == "PB3006" && d.Message.StartsWith(message, StringComparison.Ordinal) && d.Location.Line == 7);
        Assert.Contains(errors, d => d.Id == "PB3006" && d.Message == "Header 'Content-Length' of channel 'tasks' is set by the HTTP client or the engine, not by a workspace");
    }

    private static PlaybookRunner.Core.Planning.Plan PlanOne(string name, string body, string type)
    {
        using var workspace = new TempWorkspace();
        workspace.Write("d.csv", $"id,name\nA,\"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"\n");
        var file = workspace.Write("p.yaml", $$"""
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, name: string } }
            rules:
              - id: r
                when: "true"
                actions:
                  - type: {{type}}
                    url: "http://127.0.0.1:9/x"
                    body: '{{body.Replace("'", "''", StringComparison.Ordinal)}}'
            """);
        var result = TestEngine.Plan([file], AsOf);
        Assert.True(result.Plan is not null, string.Join('\n', result.Diagnostics.Select(d => d.Message)));
        return result.Plan;
    }
}
