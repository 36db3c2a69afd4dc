using System.Text;
using Microsoft.Data.Sqlite;
using PlaybookRunner.Cli.Tests.Commands;

namespace PlaybookRunner.Cli.Tests;

/// <summary>
/// Canary secrets set through ${env:...} in a webhook channel (URL and header) and a plugin source's
/// token, used for real against a listener that echoes them back in its errors: they must appear in no
/// output of any command, no plan format, no diagnostic, no file and no row of the state store.
/// </summary>
public sealed class SecretsSweepTests
{
    private static readonly string Token = TestCanary.New("sweep-token");
    private static readonly string UrlKey = TestCanary.New("sweep-urlkey");

    [Fact]
    public void Canary_secrets_appear_in_no_output_file_or_store_row()
    {
        var seen = new StringBuilder();
        using var server = new JsonApiServer(request =>
        {
            var echo = $"{request.Url} {request.Headers["Authorization"]} {request.Headers["X-Key"]}";
            lock (seen)
            {
                seen.Append(echo).Append('\n');
            }

            // A hostile or careless receiver echoes the credentials in its error.
            return (request.Url!.AbsolutePath == "/customers" ? 401 : 400, $"{{\"error\": \"rejected {echo}\"}}", null);
        });
        using var dir = new TempDir();
        dir.Write("d.csv", "id,name\nA,Acme\nB,Bolt\n");
        dir.Write("runner.yaml", $$"""
            sources:
              crm: { kind: csv, path: d.csv, key: id, fields: { id: string, name: string } }
              api: { kind: http-json, url: "{{server.Url("/customers")}}", token: "${env:PB_CANARY_TOKEN}", items: data, key: id, fields: { id: string } }
            channels:
              hook: { kind: webhook, url: "{{server.Url("/hook")}}", headers: { Authorization: "Bearer ${env:PB_CANARY_TOKEN}", X-Key: "${env:PB_CANARY_URL}" } }
            execution: { max_attempts: 2, backoff_ms: 1 }
            plugins: ["{{Path.Combine(CliRunner.RepoRoot, "artifacts", "plugins")}}"]
            """);
        dir.Write("p.yaml", "playbook: p\nsource: crm\nrules:\n  - { id: r, when: \"true\", actions: [ { type: webhook, channel: hook, body: '{\"id\": \"{{ id }}\"}' } ] }\n");
        var remote = new TempDir();
        remote.Write("q.yaml", $"playbook: q\nsource: api\nrules:\n  - {{ id: r, when: \"true\" }}\n");
        File.Copy(Path.Combine(dir.Root, "runner.yaml"), Path.Combine(remote.Root, "runner.yaml"));
        File.Copy(Path.Combine(dir.Root, "d.csv"), Path.Combine(remote.Root, "d.csv"));

        Environment.SetEnvironmentVariable("PB_CANARY_TOKEN", Token);
        Environment.SetEnvironmentVariable("PB_CANARY_URL", UrlKey);
        var outputs = new List<string>();
        try
        {
            void Run(params string[] args)
            {
                var (_, stdout, stderr) = CliRunner.Run(args);
                outputs.Add($"$ playbook {string.Join(' ', args)}\n{stdout}\n{stderr}");
            }

            const string asOf = "2026-03-02T09:00:00Z";
            Run("validate", dir.Root);
            Run("validate", dir.Root, "--format", "sarif");
            foreach (var format in new[] { "text", "json", "markdown", "html" })
            {
                Run("plan", dir.Root, "--as-of", asOf, "--format", format);
            }

            Run("plan", dir.Root, "--as-of", asOf, "--format", "json", "--explain");
            Run("explain", "p/r", "A", dir.Root, "--as-of", asOf);
            Run("run", "--create-store", dir.Root, "--as-of", asOf);
            Run("history", dir.Root);
            Run("history", dir.Root, "--failed");
            Run("plan", remote.Root, "--as-of", asOf);
            Run("sources", "describe", "api", remote.Root);
        }
        finally
        {
            Environment.SetEnvironmentVariable("PB_CANARY_TOKEN", null);
            Environment.SetEnvironmentVariable("PB_CANARY_URL", null);
            remote.Dispose();
        }

        // The secrets were really used: the listener received both...
        Assert.Contains(Token, seen.ToString(), StringComparison.Ordinal);
        Assert.Contains(UrlKey, seen.ToString(), StringComparison.Ordinal);
        // ...the run failed with the listener's echo (dead letters), and the remote source failed...
        var all = string.Join('\n', outputs);
        Assert.Contains("FAIL p/r A webhook", all, StringComparison.Ordinal);
        Assert.True(all.Contains("error PB4013", StringComparison.Ordinal), all);

        // ...yet nothing PlaybookRunner wrote shows them: outputs, files, or the state store.
        foreach (var file in Directory.EnumerateFiles(dir.Root, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".db", StringComparison.Ordinal) && !f.Contains(".db-", StringComparison.Ordinal)))
        {
            all += "\n" + File.ReadAllText(file);
        }

        all += "\n" + DumpStore(Path.Combine(dir.Root, "playbook-state.db"));
        // URLs in messages keep no query string, and response bodies (the echo) are not repeated.
        Assert.Contains($"{server.Url("/hook")}: HTTP 400 Bad Request", all, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, all, StringComparison.Ordinal);
        Assert.DoesNotContain(UrlKey, all, StringComparison.Ordinal);
    }

    private static string DumpStore(string path)
    {
        var text = new StringBuilder();
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        foreach (var table in new[] { "firings", "actions", "attempts", "ticks" })
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT * FROM {table}";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    text.Append(reader.GetValue(i)).Append('|');
                }

                text.Append('\n');
            }
        }

        Assert.Contains("dead", text.ToString(), StringComparison.Ordinal);
        return text.ToString();
    }
}
