using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace PlaybookRunner.Core.Tests.Execution;

/// <summary>playbook run end to end: a real SQLite state file, a real HTTP listener, a real SMTP server.</summary>
public sealed class RunTests
{
    private static readonly DateTimeOffset Day1 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private static string Workspace(TempWorkspace workspace, string rules, string channels = "", string extra = "")
    {
        workspace.Write("customers.csv", "id,name,email,tickets\nA,Acme,ann@example.com,5\nB,Bolt,bob@example.com,1\nC,Cask,reject@example.com,7\n");
        workspace.Write("runner.yaml", $$$"""
            sources:
              crm: { kind: csv, path: customers.csv, key: id, fields: { id: string, name: string, email: string, tickets: int } }
            execution: { max_attempts: 3, backoff_ms: 1 }
            {{{channels}}}
            {{{extra}}}
            """);
        return workspace.Write("p.yaml", "playbook: p\nsource: crm\nrules:\n" + rules);
    }

    private static Task<RunResult> Run(string file, DateTimeOffset at) => TestEngine.RunAsync([file], at, new FixedTimeProvider(at));

    [Fact]
    public async Task A_webhook_redirect_is_not_followed_so_the_channel_headers_stay_with_their_host()
    {
        using var other = new JsonApiServer(_ => (200, "{}", null));
        using var server = new JsonApiServer(_ => (302, "{}", new Dictionary<string, string> { ["Location"] = other.Url("/stolen") }));
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, """
              - id: busy
                when: tickets > 3
                actions:
                  - { type: webhook, channel: tasks, body: '{"n": 1}' }
            """, $$"""
            channels:
              tasks: { kind: webhook, url: "{{server.Url("/hook")}}", headers: { X-Api-Key: "not-a-real-key" } }
            """);

        var run = await Run(file, Day1);

        Assert.All(run.Actions, a => Assert.False(a.Succeeded));
        Assert.All(run.Actions, a => Assert.Contains("HTTP 302", a.Message, StringComparison.Ordinal));
        Assert.Empty(other.Requests);
    }

    [Fact]
    public async Task A_firing_that_delivered_nothing_starts_no_cooldown_and_plan_and_explain_say_so()
    {
        // C's webhook is refused (HTTP 400, a dead letter); A's is delivered; B's firing has one of each.
        using var server = new JsonApiServer(request => (request.Headers["X-Customer"] == "C" || request.Headers["X-Part"] == "bad" ? 400 : 202, "{}", null));
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, """
              - id: busy
                when: tickets > 3 || id == "B"
                cooldown: 30d
                actions:
                  - { type: webhook, channel: tasks, headers: { X-Customer: "{{ id }}" }, body: '{"n": 1}' }
                  - { type: webhook, channel: tasks, headers: { X-Customer: "{{ id }}", X-Part: "{{ id == 'B' ? 'bad' : 'good' }}" }, body: '{"n": 2}' }
            """, $$"""
            channels:
              tasks: { kind: webhook, url: "{{server.Url("/hook")}}" }
            """);
        var first = await Run(file, Day1);
        Assert.Equal([("A", true), ("A", true), ("B", true), ("B", false), ("C", false), ("C", false)], first.Actions.Select(a => (a.Key, a.Succeeded)));

        var plan = (await TestEngine.PlanAsync([file], Day1.AddDays(1))).Plan!;
        Assert.Equal(
            [("A", true, false), ("B", true, false), ("C", false, true)],
            plan.Findings.Select(f => (f.Key, f.HeldBackUntil is not null, f.DeadLetter is not null)));
        var dead = plan.Findings.Single(f => f.Key == "C").DeadLetter!.Value;
        Assert.Equal(Day1, dead.FiredAt);
        Assert.Contains("HTTP 400", dead.Error, StringComparison.Ordinal);
        Assert.Contains("\"deadLetter\": {", Core.Planning.PlanDocument.Write(plan, workspace.Root), StringComparison.Ordinal);
        Assert.Contains("C  ", Core.Planning.PlanWriter.WriteText(new Core.Planning.PlanView(plan, workspace.Root)), StringComparison.Ordinal);
        Assert.Contains("! the firing of 2026-03-02T09:00:00+00:00 was not delivered (dead letter: ", Core.Planning.PlanWriter.WriteText(new Core.Planning.PlanView(plan, workspace.Root)), StringComparison.Ordinal);

        var explained = await TestEngine.ExplainAsync([file], "p/busy", "C", Day1.AddDays(1));
        Assert.Contains("was not delivered (dead letter: ", explained.Explanation!.Cooldown, StringComparison.Ordinal);
        Assert.Contains("starts no cooldown", explained.Explanation.Cooldown, StringComparison.Ordinal);

        // The next run fires for C again (a new firing, new idempotency keys); A and B stay held back.
        var second = await Run(file, Day1.AddDays(1));
        Assert.Equal(["C", "C"], second.Actions.Select(a => a.Key));
        Assert.All(second.Actions, a => Assert.EndsWith("/20260303T090000.000Z", a.IdempotencyKey, StringComparison.Ordinal));
    }

    [Fact]
    public async Task File_actions_are_recorded_once_and_cooldowns_hold_back_the_next_run()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, """
              - id: busy
                when: tickets > 3
                cooldown: 7d
                actions:
                  - { type: file, path: out/outbox.jsonl, body: "{{ name }} has {{ tickets }} tickets" }
              - id: escalate
                when: LastFired("busy") != null && DaysSince(LastFired("busy")) >= 3
                actions:
                  - { type: file, path: out/outbox.jsonl, body: "escalate {{ name }}" }
            """);
        var first = await Run(file, Day1);
        Assert.True(first.Success, string.Join("\n", first.Diagnostics.Select(d => d.Message)));
        Assert.Equal(["A", "C"], first.Actions.Select(a => a.Key));
        var lines = File.ReadAllLines(Path.Combine(workspace.Root, "out", "outbox.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["Acme has 5 tickets", "Cask has 7 tickets"], lines.Select(l => l.GetProperty("body").GetString()));
        Assert.Equal("p/busy/A/0/20260302T090000.000Z", lines[0].GetProperty("id").GetString());
        Assert.Equal(("p", "busy", "A", "warning", "2026-03-02T09:00:00.0000000Z"),
            (lines[0].GetProperty("playbook").GetString(), lines[0].GetProperty("rule").GetString(), lines[0].GetProperty("key").GetString(), lines[0].GetProperty("severity").GetString(), lines[0].GetProperty("at").GetString()));

        // Two days later: the cooldown holds both back; plan shows until when; nothing runs.
        var plan = await TestEngine.PlanAsync([file], Day1.AddDays(2));
        Assert.All(plan.Plan!.Findings, f => Assert.Equal(Day1.AddDays(7), f.HeldBackUntil));
        Assert.Equal((0, 2), (plan.Plan.Summary.Actions, plan.Plan.Summary.HeldBack));
        var second = await Run(file, Day1.AddDays(2));
        Assert.Empty(second.Actions);

        // Four days later LastFired drives the escalation, still inside busy's cooldown.
        var third = await Run(file, Day1.AddDays(4));
        Assert.Equal([("escalate", "A"), ("escalate", "C")], third.Actions.Select(a => (a.Rule, a.Key)));
        Assert.Equal(4, File.ReadAllLines(Path.Combine(workspace.Root, "out", "outbox.jsonl")).Length);

        var (history, _) = TestEngine.History([workspace.Root], "busy", "A", failedOnly: false);
        var entry = Assert.Single(history);
        Assert.Equal(("succeeded", 1, "p/busy/A/0/20260302T090000.000Z"), (entry.State, entry.Attempts, entry.IdempotencyKey));
    }

    [Fact]
    public async Task Plan_never_writes_the_store()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, "  - { id: r, when: tickets > 3, actions: [ { type: file, path: o.jsonl, body: x } ] }\n");
        var plan = await TestEngine.PlanAsync([file], Day1);
        Assert.True(plan.Success);
        Assert.False(File.Exists(Path.Combine(workspace.Root, "playbook-state.db")));
        await Run(file, Day1);
        var before = File.GetLastWriteTimeUtc(Path.Combine(workspace.Root, "playbook-state.db"));
        var size = new FileInfo(Path.Combine(workspace.Root, "playbook-state.db")).Length;
        await TestEngine.PlanAsync([file], Day1.AddDays(1));
        Assert.Equal((before, size), (File.GetLastWriteTimeUtc(Path.Combine(workspace.Root, "playbook-state.db")), new FileInfo(Path.Combine(workspace.Root, "playbook-state.db")).Length));
    }

    [Fact]
    public async Task Webhooks_carry_idempotency_headers_retry_transient_and_dead_letter_permanent()
    {
        var calls = new Dictionary<string, int>();
        using var server = new JsonApiServer(request =>
        {
            var body = new StreamReader(request.InputStream).ReadToEnd();
            var name = JsonDocument.Parse(body).RootElement.GetProperty("name").GetString()!;
            lock (calls)
            {
                calls[name] = calls.GetValueOrDefault(name) + 1;
                return name switch
                {
                    "Acme" when calls[name] == 1 => (503, "{}", new Dictionary<string, string> { ["Retry-After"] = "0" }),
                    "Cask" => (400, "{\"error\":\"bad\"}", null),
                    _ => (202, "{}", null),
                };
            }
        });
        var variable = "PB_TEST_HOOK_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var secret = TestCanary.New("run-hook-token");
        Environment.SetEnvironmentVariable(variable, secret);
        try
        {
            using var workspace = new TempWorkspace();
            var file = Workspace(workspace, """
                  - id: busy
                    when: tickets > 3
                    actions:
                      - type: webhook
                        channel: tasks
                        headers: { X-Customer: "{{ id }}" }
                        body: '{"name": "{{ name | json_escape }}"}'
                """, $$"""
                channels:
                  tasks: { kind: webhook, url: "{{server.Url("/hook")}}", headers: { Authorization: "Bearer ${env:{{variable}}}" } }
                """);
            var result = await Run(file, Day1);
            Assert.False(result.Success);
            Assert.Equal([("A", true, 2), ("C", false, 1)], result.Actions.Select(a => (a.Key, a.Succeeded, a.Attempts)));
            Assert.Equal($"{server.Url("/hook")}: HTTP 400 Bad Request", result.Actions[1].Message);
            var failure = Assert.Single(result.Diagnostics, d => d.Id == "PB5004");
            Assert.Equal($"p/busy webhook action for key 'C' failed: {server.Url("/hook")}: HTTP 400 Bad Request", failure.Message);

            var requests = server.Requests.ToList();
            Assert.Equal(3, requests.Count);
            Assert.All(requests, r => Assert.Equal("Bearer " + secret, r.Authorization));

            var (dead, _) = TestEngine.History([workspace.Root], null, null, failedOnly: true);
            Assert.Equal(("C", "dead"), (Assert.Single(dead).Key, dead[0].State));
            using (var store = Core.Execution.SqliteStateStore.OpenReadOnly(Path.Combine(workspace.Root, "playbook-state.db"), TimeProvider.System))
            {
                Assert.Equal(["transient", "succeeded"], store.Attempts("p/busy/A/0/20260302T090000.000Z").Select(a => a.Outcome));
                Assert.Equal(["permanent"], store.Attempts("p/busy/C/0/20260302T090000.000Z").Select(a => a.Outcome));
            }

            // The resolved secret is nowhere in the store.
            Assert.DoesNotContain(secret, DumpStore(Path.Combine(workspace.Root, "playbook-state.db")), StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task Webhook_headers_name_the_action()
    {
        var headers = new List<(string?, string?, string?, string?)>();
        using var server = new JsonApiServer(request =>
        {
            lock (headers)
            {
                headers.Add((request.Headers["Idempotency-Key"], request.Headers["webhook-id"], request.Headers["webhook-timestamp"], request.Headers["X-Customer"]));
            }

            return (200, "{}", null);
        });
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, $$$"""
              - id: busy
                when: id == "A"
                actions:
                  - { type: webhook, url: "{{{server.Url("/x")}}}", headers: { X-Customer: "{{ id }}" }, body: "{}" }
            """);
        Assert.True((await Run(file, Day1)).Success);
        Assert.Equal(("p/busy/A/0/20260302T090000.000Z", "p/busy/A/0/20260302T090000.000Z", "1772442000", "A"), Assert.Single(headers));
    }

    [Fact]
    public async Task Emails_reach_a_real_smtp_server_and_smtp_codes_are_classified()
    {
        using var smtp = new SmtpServer();
        using var workspace = new TempWorkspace();
        workspace.Write("customers.csv", "id,name,email,tickets\nA,Fenwick & <Hale>,ann@example.com,5\nB,Bolt,busy@example.com,6\nC,Cask,reject@example.com,7\n");
        workspace.Write("runner.yaml", $$"""
            sources:
              crm: { kind: csv, path: customers.csv, key: id, fields: { id: string, name: string, email: string, tickets: int } }
            execution: { max_attempts: 2, backoff_ms: 1, retry_horizon_minutes: 0 }
            channels:
              default: { kind: smtp, host: 127.0.0.1, port: {{smtp.Port}}, from: "Customer Success <cs@example.com>", tls: none }
            """);
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: crm
            rules:
              - id: busy
                when: tickets > 3
                actions:
                  - type: email
                    to: "{{ email }}"
                    cc: lead@example.com
                    subject: "{{ name }} has {{ tickets }} open tickets"
                    html: true
                    body: "<p>{{ name }} needs a call.</p>"
            """);
        var result = await Run(file, Day1);
        Assert.Equal([("A", true, 1), ("B", false, 2), ("C", false, 1)], result.Actions.Select(a => (a.Key, a.Succeeded, a.Attempts)));
        Assert.StartsWith("SMTP 451: ", result.Actions[1].Message, StringComparison.Ordinal);
        Assert.EndsWith("(gave up after 2 attempts)", result.Actions[1].Message, StringComparison.Ordinal);
        Assert.StartsWith("SMTP 550: ", result.Actions[2].Message, StringComparison.Ordinal);
        var message = Assert.Single(smtp.Messages());
        Assert.Contains("To: ann@example.com", message, StringComparison.Ordinal);
        Assert.Contains("Cc: lead@example.com", message, StringComparison.Ordinal);
        Assert.Contains("Subject: Fenwick & <Hale> has 5 open tickets", message, StringComparison.Ordinal);
        Assert.Contains("Content-Type: text/html", message, StringComparison.Ordinal);
        Assert.Contains("<p>Fenwick &amp; &lt;Hale&gt; needs a call.</p>", message, StringComparison.Ordinal);
        Assert.Contains("X-Playbook-Idempotency-Key: p/busy/A/0/20260302T090000.000Z", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Suppressed_findings_show_their_justification_and_run_nothing()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, "  - { id: busy, when: tickets > 3, actions: [ { type: file, path: o.jsonl, body: x } ] }\n");
        workspace.Write("suppressions.yaml", """
            suppressions:
              - { rule: p/busy, key: A, until: 2026-12-31, justification: The CEO meets them every week }
              - { rule: p/busy, key: C, until: 2026-01-31, justification: Old news }
              - { rule: p/gone, justification: Renamed rule }
            """);
        var validation = TestEngine.Validate([workspace.Root], new FixedTimeProvider(Day1));
        Assert.Equal(
            [("PB1025", 3, 5, "Suppression of 'p/busy' for key 'C' expired on 2026-01-31"), ("PB1026", 4, 5, "Suppression names 'p/gone', which is not a rule of any playbook here")],
            validation.Diagnostics.Select(d => (d.Id, d.Location.Line, d.Location.Column, d.Message)));
        Assert.True(validation.Success);

        var plan = (await TestEngine.PlanAsync([file], Day1)).Plan!;
        Assert.Equal([("A", true, "The CEO meets them every week"), ("C", false, null)], plan.Findings.Select(f => (f.Key, f.Suppressed, f.Justification)));
        Assert.Equal((1, 1), (plan.Summary.Actions, plan.Summary.Suppressed));
        var run = await Run(file, Day1);
        Assert.Equal(["C"], run.Actions.Select(a => a.Key));
    }

    [Fact]
    public async Task A_crash_after_recording_intent_is_finished_by_the_next_run_with_the_same_key()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, "  - { id: busy, when: tickets > 3, actions: [ { type: file, path: o.jsonl, body: \"{{ id }}\" } ] }\n");
        var crash = TestEngine.Engine(new FixedTimeProvider(Day1), new CrashBeforeExecuting());
        await Assert.ThrowsAsync<InvalidOperationException>(() => crash.RunAsync([file], Day1));

        Assert.False(File.Exists(Path.Combine(workspace.Root, "o.jsonl")));
        var (pending, _) = TestEngine.History([workspace.Root], null, null, failedOnly: false);
        // Every firing's intent is recorded before the first action runs.
        Assert.Equal([("A", "pending"), ("C", "pending")], pending.Select(p => (p.Key, p.State)));

        // A later run recovers both with their original keys, then fires again (the rule has no cooldown).
        var next = await Run(file, Day1.AddHours(1));
        Assert.Equal([("A", true, "p/busy/A/0/20260302T090000.000Z"), ("C", true, "p/busy/C/0/20260302T090000.000Z"), ("A", false, "p/busy/A/0/20260302T100000.000Z"), ("C", false, "p/busy/C/0/20260302T100000.000Z")],
            next.Actions.Select(a => (a.Key, a.Recovered, a.IdempotencyKey)));
    }

    private static string DumpStore(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM actions";
        using var reader = command.ExecuteReader();
        var text = new System.Text.StringBuilder();
        while (reader.Read())
        {
            for (var i = 0; i < reader.FieldCount; i++)
            {
                text.Append(reader.GetValue(i)).Append('|');
            }
        }

        return text.ToString();
    }

    /// <summary>Simulates a crash after an action's intent is recorded and before it is executed.</summary>
    private sealed class CrashBeforeExecuting : Core.Execution.IExecutionObserver
    {
        public void Claimed(string idempotencyKey) => throw new InvalidOperationException("simulated crash before " + idempotencyKey);
    }
}

public sealed class StateStoreTests
{
    [Fact]
    public void Migrations_create_every_table_and_are_recorded()
    {
        using var workspace = new TempWorkspace();
        var path = Path.Combine(workspace.Root, "state.db");
        using (Core.Execution.SqliteStateStore.OpenForWrite(path, TimeProvider.System, TimeSpan.FromSeconds(60)))
        {
        }

        using (Core.Execution.SqliteStateStore.OpenForWrite(path, TimeProvider.System, TimeSpan.FromSeconds(60)))
        {
        }

        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT group_concat(version) FROM schema_version; PRAGMA journal_mode;";
        using var reader = command.ExecuteReader();
        reader.Read();
        Assert.Equal("1,2,3,4,5,6,7", reader.GetString(0));
        reader.NextResult();
        reader.Read();
        Assert.Equal("wal", reader.GetString(0));
    }

    [Fact]
    public void A_store_from_a_newer_version_is_refused()
    {
        using var workspace = new TempWorkspace();
        var path = Path.Combine(workspace.Root, "state.db");
        using (Core.Execution.SqliteStateStore.OpenForWrite(path, TimeProvider.System, TimeSpan.FromSeconds(60)))
        {
        }

        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO schema_version VALUES (99)";
            command.ExecuteNonQuery();
        }

        var error = Assert.Throws<InvalidOperationException>(() => Core.Execution.SqliteStateStore.OpenForWrite(path, TimeProvider.System, TimeSpan.FromSeconds(60)));
        Assert.Contains("has schema version 99, newer than this PlaybookRunner understands (7)", error.Message, StringComparison.Ordinal);
    }
}
