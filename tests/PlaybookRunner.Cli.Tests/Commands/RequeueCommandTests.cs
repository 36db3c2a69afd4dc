using System.Collections.Concurrent;

namespace PlaybookRunner.Cli.Tests.Commands;

/// <summary><c>playbook requeue</c>: dead letters delivered later with their original idempotency keys, against a real HTTP listener and SQLite store.</summary>
public sealed class RequeueCommandTests
{
    [Fact]
    public void A_requeued_dead_letter_is_delivered_by_the_next_run_with_its_original_key()
    {
        var accept = false;
        var received = new ConcurrentQueue<string>();
        using var server = new JsonApiServer(request =>
        {
            received.Enqueue($"{request.Headers["Idempotency-Key"]} {(accept ? 202 : 400)}");
            return (accept ? 202 : 400, "{}", null);
        });
        using var dir = new TempDir();
        dir.Write("d.csv", "id,n\nA,5\nB,1\n");
        dir.Write("runner.yaml", $$"""
            channels:
              tasks: { kind: webhook, url: "{{server.Url("/tasks")}}" }
            execution: { max_attempts: 1 }
            """);
        dir.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }
            rules:
              - { id: busy, when: n > 3, cooldown: 30d, actions: [ { type: webhook, channel: tasks, body: '{"id": "{{ id }}"}' } ] }
            """);
        const string Key = "p/busy/A/0/20260302T090000.000Z";

        Assert.Equal(1, CliRunner.Run("run", "--create-store", dir.Root, "--as-of", "2026-03-02T09:00:00Z").ExitCode);
        Assert.Equal([$"{Key} 400"], received);

        var usage = CliRunner.Run("requeue", dir.Root);
        Assert.Equal(2, usage.ExitCode);
        Assert.Contains("name what to requeue", usage.Err, StringComparison.Ordinal);
        Assert.Contains("Requeued 0 dead letter(s), skipped 0", CliRunner.Run("requeue", dir.Root, "--key", "B").Out, StringComparison.Ordinal);

        accept = true;
        var requeue = CliRunner.Run("requeue", dir.Root, "--rule", "p/busy", "--key", "A");
        Assert.Equal(0, requeue.ExitCode);
        Assert.Equal($"requeued  p/busy  A  #0 webhook  {Key}\nRequeued 1 dead letter(s), skipped 0; `playbook run` or the daemon delivers them\n", requeue.Out.ReplaceLineEndings("\n"));

        // A day later: the requeued action is pending, so the firing counts again and A is held back; the action goes out with its key.
        var run = CliRunner.Run("run", "--create-store", dir.Root, "--as-of", "2026-03-03T09:00:00Z");
        Assert.True(run.ExitCode == 0, run.Out + run.Err);
        Assert.Equal([$"{Key} 400", $"{Key} 202"], received);
        var history = CliRunner.Run("history", dir.Root).Out;
        Assert.Contains("succeeded  p/busy  A  #0 webhook  attempts 2", history, StringComparison.Ordinal);
        using var store = PlaybookRunner.Core.Execution.SqliteStateStore.OpenReadOnly(Path.Combine(dir.Root, "playbook-state.db"), TimeProvider.System);
        Assert.Equal(["permanent", "requeued", "succeeded"], store.Attempts(Key).Select(a => a.Outcome));
    }

    [Fact]
    public void A_dead_letter_whose_rule_fired_again_since_is_not_requeued()
    {
        using var server = new JsonApiServer(_ => (400, "{}", null));
        using var dir = new TempDir();
        dir.Write("d.csv", "id,n\nA,5\n");
        dir.Write("runner.yaml", $$"""
            channels:
              tasks: { kind: webhook, url: "{{server.Url("/tasks")}}" }
            execution: { max_attempts: 1 }
            """);
        dir.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }
            rules:
              - { id: busy, when: n > 3, cooldown: 30d, actions: [ { type: webhook, channel: tasks, body: '{"id": "{{ id }}"}' } ] }
            """);
        // Nothing delivered starts no cooldown: the second run fires again, and dead-letters again.
        CliRunner.Run("run", "--create-store", dir.Root, "--as-of", "2026-03-02T09:00:00Z");
        CliRunner.Run("run", "--create-store", dir.Root, "--as-of", "2026-03-03T09:00:00Z");

        var requeue = CliRunner.Run("requeue", dir.Root, "--all");

        Assert.Equal(
            "requeued  p/busy  A  #0 webhook  p/busy/A/0/20260303T090000.000Z\n"
            + "skipped   p/busy  A  #0 webhook  p/busy/A/0/20260302T090000.000Z: the rule fired for A again at 2026-03-03T09:00:00+00:00\n"
            + "Requeued 1 dead letter(s), skipped 1; `playbook run` or the daemon delivers them\n",
            requeue.Out.ReplaceLineEndings("\n"));
    }
}
