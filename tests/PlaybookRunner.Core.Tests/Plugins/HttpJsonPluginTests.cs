
namespace PlaybookRunner.Core.Tests.Plugins;

/// <summary>The real http-json plugin, built into artifacts/plugins and loaded through the real loader, against a real HTTP server on 127.0.0.1.</summary>
public sealed class HttpJsonPluginTests
{
    private static readonly string PluginFolder = Path.Combine(TestPaths.RepoRoot, "artifacts", "plugins");

    private static string Workspace(TempWorkspace workspace, string sourceOptions)
    {
        workspace.Write("runner.yaml", $$$"""
            plugins: [ "{{{PluginFolder}}}" ]
            sources:
              api:
                kind: http-json
            {{{sourceOptions}}}
                key: id
                fields: { id: string, name: string, revenue: decimal, owner_email: { type: string, column: owner.email } }
            """);
        return workspace.Write("p.yaml", """
            playbook: p
            source: api
            rules:
              - id: big
                when: revenue > 100
                message: "{{ id }} {{ name }} {{ owner_email }}"
            """);
    }

    private static string Page(string items, string? next) =>
        "{\"data\": [" + items + "], \"links\": {\"next\": " + (next is null ? "null" : $"\"{next}\"") + "}}";

    [Fact]
    public async Task Follows_next_links_sends_the_token_and_retries_429_and_503()
    {
        var failures = 0;
        using var server = new JsonApiServer(request =>
        {
            if (request.Url!.AbsolutePath == "/customers" && Interlocked.Increment(ref failures) <= 2)
            {
                return failures == 1 ? (429, "{}", new Dictionary<string, string> { ["Retry-After"] = "0" }) : (503, "{}", null);
            }

            return request.Url.AbsolutePath switch
            {
                "/customers" => (200, Page("""{"id": "A", "name": "Acme", "revenue": 500, "owner": {"email": "ann@example.com"}}""", "/customers/page2"), null),
                "/customers/page2" => (200, Page("""{"id": "B", "name": "Bolt", "revenue": 50, "owner": {"email": "bob@example.com"}}, {"id": "C", "name": "Cask", "revenue": 700.25, "owner": {"email": "cat@example.com"}}""", null), null),
                _ => (404, "{}", null),
            };
        });
        var variable = "PB_TEST_TOKEN_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var token = TestCanary.New("http-json-token");
        Environment.SetEnvironmentVariable(variable, token);
        try
        {
            using var workspace = new TempWorkspace();
            var file = Workspace(workspace, $$"""
                    url: {{server.Url("/customers")}}
                    items: data
                    next: links.next
                    token: "${env:{{variable}}}"
                    backoff_ms: 10
                """);
            var result = await TestEngine.PlanAsync([file], DateTimeOffset.UnixEpoch);
            Assert.True(result.Success, string.Join("\n", result.Diagnostics.Select(d => d.Message)));
            Assert.Equal(["A Acme ann@example.com", "C Cask cat@example.com"], result.Plan!.Findings.Select(f => f.Message));
            var requests = server.Requests.ToList();
            Assert.Equal(["/customers", "/customers", "/customers", "/customers/page2"], requests.Select(r => r.Url));
            Assert.All(requests, r => Assert.Equal("Bearer " + token, r.Authorization));
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Theory]
    [InlineData("http://localhost:{port}/steal")]
    [InlineData("https://127.0.0.1:{port}/steal")]
    [InlineData("http://127.0.0.1:1/steal")]
    [InlineData("//localhost:{port}/steal")]
    public async Task A_next_link_to_another_origin_is_refused_and_gets_no_token(string link)
    {
        JsonApiServer? self = null;
        using var server = new JsonApiServer(request => request.Url!.AbsolutePath switch
        {
            "/customers" => (200, Page("""{"id": "A", "name": "Acme", "revenue": 500, "owner": {"email": "ann@example.com"}}""", link.Replace("{port}", self!.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)), null),
            _ => (200, Page("", null), null),
        });
        self = server;
        var variable = "PB_TEST_TOKEN_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        Environment.SetEnvironmentVariable(variable, TestCanary.New("http-json-next"));
        try
        {
            using var workspace = new TempWorkspace();
            var file = Workspace(workspace, $$"""
                    url: {{server.Url("/customers")}}
                    items: data
                    next: links.next
                    token: "${env:{{variable}}}"
                """);
            var result = await TestEngine.PlanAsync([file], DateTimeOffset.UnixEpoch);

            Assert.Null(result.Plan);
            Assert.Contains(result.Diagnostics, d => d.Message.Contains("a source reads from its own origin only", StringComparison.Ordinal));
            Assert.Equal(["/customers"], server.Requests.Select(r => r.Url));
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task Pages_by_number_until_an_empty_page()
    {
        using var server = new JsonApiServer(request => request.QueryString["page"] switch
        {
            "1" => (200, """[{"id": "A", "name": "Acme", "revenue": 500, "owner": {"email": "a@x"}}]""", null),
            "2" => (200, """[{"id": "B", "name": "Bolt", "revenue": 600, "owner": {"email": "b@x"}}]""", null),
            _ => (200, "[]", null),
        });
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, $"""
                url: {server.Url("/c?size=1")}
                page_param: page
            """);
        var result = await TestEngine.PlanAsync([file], DateTimeOffset.UnixEpoch);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics.Select(d => d.Message)));
        Assert.Equal(["A", "B"], result.Plan!.Findings.Select(f => f.Key));
        Assert.Equal(["/c?size=1&page=1", "/c?size=1&page=2", "/c?size=1&page=3"], server.Requests.Select(r => r.Url));
    }

    [Fact]
    public async Task Permanent_http_errors_are_diagnostics_naming_source_and_plugin()
    {
        using var server = new JsonApiServer(_ => (404, "{}", null));
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, $"    url: {server.Url("/gone?secret=abc")}\n    backoff_ms: 10");
        var error = Assert.Single((await TestEngine.PlanAsync([file], DateTimeOffset.UnixEpoch)).Diagnostics);
        Assert.Equal("PB4013", error.Id);
        Assert.Equal($"Source 'api' (kind http-json, plugin PlaybookRunner.Plugins.HttpJson) failed while reading: {server.Url("/gone")}: HTTP 404 Not Found", error.Message);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Retries_give_up_after_the_configured_attempts()
    {
        using var server = new JsonApiServer(_ => (500, "{}", null));
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, $"    url: {server.Url("/c")}\n    retries: 2\n    backoff_ms: 1");
        var error = Assert.Single((await TestEngine.PlanAsync([file], DateTimeOffset.UnixEpoch)).Diagnostics);
        Assert.EndsWith("HTTP 500 Internal Server Error", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, server.Requests.Count);
    }

    [Fact]
    public void Bad_options_are_reported_by_the_plugin_at_validate()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, "    url: ftp://example/x\n    next: a\n    page_param: p\n    colour: blue");
        var diagnostics = TestEngine.Validate([file]).Diagnostics;
        Assert.Equal(
            [("PB4012", 5, 10, "Source 'api' (url): 'ftp://example/x' is not an absolute http or https URL"),
             ("PB4012", 6, 11, "Source 'api' (next): use either next (a next-link path) or page_param (a page number parameter), not both"),
             ("PB4012", 8, 13, "Source 'api' (colour): unknown option 'colour'; known: url, items, next, page_param, first_page, page_size_param, page_size, token, max_pages, retries, backoff_ms, timeout_seconds")],
            diagnostics.Select(d => (d.Id, d.Location.Line, d.Location.Column, d.Message)));
    }
}

public sealed class PluginCatalogTests
{
    [Fact]
    public void Unknown_kind_lists_what_is_available()
    {
        using var workspace = new TempWorkspace();
        var file = workspace.Write("p.yaml", "playbook: p\nsource: { kind: salesforce, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: \"true\" }\n");
        var error = Assert.Single(TestEngine.Validate([file]).Diagnostics);
        Assert.Equal(("PB4002", 2, 17), (error.Id, error.Location.Line, error.Location.Column));
        Assert.Equal("Source kind 'salesforce' is not available; built-in kinds here: csv, jsonl, postgres, sqlite", error.Message);
    }

    [Fact]
    public void Broken_plugins_are_diagnostics_not_crashes()
    {
        using var workspace = new TempWorkspace();
        // A folder the operator allows (TestOperatorSettings), holding a plugin folder without its DLL and a DLL that is not one.
        var plugins = Path.Combine(TestOperatorSettings.PluginFolder, "broken-" + Path.GetFileName(workspace.Root));
        Directory.CreateDirectory(Path.Combine(plugins, "Empty"));
        Directory.CreateDirectory(Path.Combine(plugins, "Garbage"));
        File.WriteAllText(Path.Combine(plugins, "Garbage", "Garbage.dll"), "this is not an assembly");
        workspace.Write("runner.yaml", $"plugins: [ \"{plugins}\" ]\n");
        workspace.Write("d.csv", "id\nA\n");
        workspace.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: \"true\" }\n");
        var diagnostics = TestEngine.Validate([workspace.Root]).Diagnostics;
        Assert.Equal(["PB4011", "PB4011"], diagnostics.Select(d => d.Id));
        Assert.Equal($"Plugin 'Empty' could not be loaded: Empty.dll not found in {Path.Combine(plugins, "Empty")}", diagnostics[0].Message);
        Assert.StartsWith("Plugin 'Garbage' could not be loaded: BadImageFormatException:", diagnostics[1].Message, StringComparison.Ordinal);
    }
}

/// <summary>The real slack action plugin, loaded through the real loader, posting to a real HTTP listener.</summary>
public sealed class SlackActionPluginTests
{
    private static readonly string PluginFolder = Path.Combine(TestPaths.RepoRoot, "artifacts", "plugins");

    private static string Workspace(TempWorkspace workspace, string action)
    {
        workspace.Write("d.csv", "id,name\nA,Acme\n");
        workspace.Write("runner.yaml", $"plugins: [ \"{PluginFolder}\" ]\nexecution: {{ max_attempts: 2, backoff_ms: 1 }}\n");
        return workspace.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string, name: string } }\nrules:\n  - id: r\n    when: \"true\"\n    actions:\n" + action);
    }

    [Fact]
    public async Task Plugin_actions_run_through_the_contract_with_the_idempotency_key()
    {
        var bodies = new List<(string Body, string? Key)>();
        using var server = new JsonApiServer(request =>
        {
            lock (bodies)
            {
                bodies.Add((new StreamReader(request.InputStream).ReadToEnd(), request.Headers["Idempotency-Key"]));
                return bodies.Count == 1 ? (503, "{}", null) : (200, "ok", null);
            }
        });
        var variable = "PB_TEST_SLACK_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        Environment.SetEnvironmentVariable(variable, server.Url("/services/T0/B0/x"));
        try
        {
            using var workspace = new TempWorkspace();
            var file = Workspace(workspace, $"      - {{ type: slack, url_env: {variable}, channel: \"#cs\", text: \"*{{{{ name }}}}* needs a call\" }}\n");
            var plan = await TestEngine.PlanAsync([file], DateTimeOffset.UnixEpoch);
            Assert.True(plan.Success, string.Join("\n", plan.Diagnostics.Select(d => d.Message)));
            var run = await TestEngine.RunAsync([file], new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero), TimeProvider.System);
            var action = Assert.Single(run.Actions);
            Assert.Equal(("slack", true, 2), (action.Type, action.Succeeded, action.Attempts));
            Assert.Equal("{\"text\":\"*Acme* needs a call\",\"channel\":\"#cs\"}", bodies[1].Body);
            Assert.Equal(Uri.EscapeDataString("p/r/A/0/20260302T090000.000Z"), bodies[1].Key);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task A_slack_action_reads_no_variable_the_operator_did_not_allow()
    {
        using var server = new JsonApiServer(_ => (200, "ok", null));
        // Not PB_*: this test run's operator does not allow it.
        var variable = "HIDDEN_SLACK_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        Environment.SetEnvironmentVariable(variable, server.Url("/services/T0/B0/x"));
        try
        {
            using var workspace = new TempWorkspace();
            var file = Workspace(workspace, $"      - {{ type: slack, url_env: {variable}, text: hi }}\n");
            var run = await TestEngine.RunAsync([file], new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero), TimeProvider.System);

            var action = Assert.Single(run.Actions);
            Assert.False(action.Succeeded);
            Assert.Equal($"environment variable '{variable}' is not allowed for this workspace: the operator allows variables with PLAYBOOK_ALLOWED_ENV", action.Message);
            Assert.Empty(server.Requests);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public void Plugin_action_fields_are_checked_at_validate()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, "      - { type: slack, txt: hi }\n      - { type: pager, text: x }\n");
        var diagnostics = TestEngine.Validate([file]).Diagnostics;
        Assert.Equal(
            [("PB1003", 7, 9, "Missing required key 'text' in a slack action"),
             ("PB1002", 7, 24, "Unknown key 'txt' in a slack action; did you mean 'text'?"),
             ("PB1006", 8, 17, "'pager' is not allowed for action type; expected one of: email, webhook, file, slack")],
            diagnostics.Select(d => (d.Id, d.Location.Line, d.Location.Column, d.Message)));
    }
}
