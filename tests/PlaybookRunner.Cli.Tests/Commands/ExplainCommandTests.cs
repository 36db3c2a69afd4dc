using System.Text.Json;

namespace PlaybookRunner.Cli.Tests.Commands;

public sealed class ExplainCommandTests
{
    [Fact]
    public void Explain_shows_every_part_of_the_condition_with_its_value_and_the_computed_values_segments_lets_and_cooldown()
    {
        var (code, stdout, stderr) = CliRunner.Run("explain", "key-client-care/renewal-at-risk", "C-1004", CliRunner.Playbooks, "--as-of", "2026-03-02T09:00:00Z");
        Assert.Equal((0, ""), (code, stderr));
        Assert.Equal(
            """
            key-client-care/renewal-at-risk for C-1004 as of 2026-03-02T09:00:00+00:00

            when: key && DaysUntil(renewal_date) <= 60 && (nps < 7 || days_silent == null || days_silent > 21)
              key                                                 = true
              DaysUntil(renewal_date) <= 60                       = true
                DaysUntil(renewal_date)                           = 25
                  renewal_date                                    = 2026-03-27
              nps < 7 || days_silent == null || days_silent > 21  = true
                nps < 7                                           = false
                  nps                                             = null
                days_silent == null                               = false
                  days_silent                                     = 37
                days_silent > 21                                  = true
                  days_silent                                     = 37
            values:
              days_silent = 37    (last_contact_at == null ? (int?)null : DaysSince(last_contact_at))
            segments:
              key = true    (revenue >= key_revenue)
            let:
              key_revenue = 640000.00    (ParetoThreshold(c => c.revenue, 0.80))
            cooldown: 7d; never fired for C-1004
            suppression: none
            result: fires: 1 action(s) would run

            """,
            stdout.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Short_circuited_parts_are_not_evaluated_and_suppressions_and_cooldowns_are_explained()
    {
        var stale = CliRunner.Run("explain", "stale-ticket", "C-1004", CliRunner.Playbooks, "--as-of", "2026-03-02T09:00:00Z");
        Assert.Equal(0, stale.ExitCode);
        Assert.Contains(
            """
              oldest_open_ticket_at != null          = false
                oldest_open_ticket_at                = null
              DaysSince(oldest_open_ticket_at) > 14  = (not evaluated)
                DaysSince(oldest_open_ticket_at)     = (not evaluated)
            """,
            stale.Out.ReplaceLineEndings("\n"),
            StringComparison.Ordinal);
        Assert.EndsWith("result: does not fire: the condition is false\n", stale.Out.ReplaceLineEndings("\n"), StringComparison.Ordinal);

        var suppressed = CliRunner.Run("explain", "no-contact-30d", "C-1006", CliRunner.Playbooks, "--as-of", "2026-03-02T09:00:00Z");
        Assert.EndsWith(
            "suppression: suppressed until 2027-06-30: Fenwick & Hale's partners meet our CEO monthly; those meetings are not logged in the CRM.\nresult: the condition holds, but the finding is suppressed: no action runs\n",
            suppressed.Out.ReplaceLineEndings("\n"),
            StringComparison.Ordinal);

        using var dir = new TempDir();
        dir.Write("d.csv", "id,n\nA,5\n");
        dir.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }\nrules:\n  - { id: r, when: n > 3, cooldown: 7d, actions: [ { type: file, path: o.jsonl, body: x } ] }\n");
        Assert.Equal(0, CliRunner.Run("run", "--create-store", dir.Root, "--as-of", "2026-03-02T09:00:00Z").ExitCode);
        var held = CliRunner.Run("explain", "r", "A", dir.Root, "--as-of", "2026-03-05T09:00:00Z");
        Assert.EndsWith(
            "cooldown: 7d; last fired 2026-03-02T09:00:00+00:00, held back until 2026-03-09T09:00:00+00:00\nsuppression: none\nresult: the condition holds, but the cooldown holds it back until 2026-03-09T09:00:00+00:00: no action runs\n",
            held.Out.ReplaceLineEndings("\n"),
            StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_rule_an_ambiguous_rule_and_an_unknown_key_are_diagnostics()
    {
        var unknown = CliRunner.Run("explain", "nope", "C-1001", CliRunner.Playbooks);
        Assert.Equal(1, unknown.ExitCode);
        Assert.StartsWith("playbook: error PB1029: No rule 'nope' (rules: key-client-care/no-contact-30d, key-client-care/escalate-to-lead, key-client-care/semiannual-review,", unknown.Err, StringComparison.Ordinal);

        var missing = CliRunner.Run("explain", "detractor-follow-up", "C-9999", CliRunner.Playbooks);
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal($"{TempDir.Display(Path.Combine(CliRunner.Playbooks, "runner.yaml"))}(9,5): error PB1029: No record with key 'C-9999' in source 'crm' of playbook 'nps-follow-up'\n", missing.Err.ReplaceLineEndings("\n"));

        using var dir = new TempDir();
        dir.Write("d.csv", "id\nA\n");
        dir.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: \"true\" }\n");
        dir.Write("q.yaml", "playbook: q\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: \"true\" }\n");
        var ambiguous = CliRunner.Run("explain", "r", "A", dir.Root);
        Assert.Equal("playbook: error PB1029: Rule 'r' is in several playbooks (p/r, q/r); write playbook/rule\n", ambiguous.Err.ReplaceLineEndings("\n"));
        Assert.Equal(0, CliRunner.Run("explain", "q/r", "A", dir.Root).ExitCode);
    }

    [Fact]
    public void Plan_explain_adds_each_findings_condition_parts_to_the_json()
    {
        var (code, stdout, _) = CliRunner.Run("plan", CliRunner.Playbooks, "--as-of", "2026-03-02T09:00:00Z", "--format", "json", "--explain");
        Assert.Equal(0, code);
        using var plan = JsonDocument.Parse(stdout);
        var first = plan.RootElement.GetProperty("findings")[0];
        Assert.Equal(("no-contact-30d", "C-1002"), (first.GetProperty("rule").GetString(), first.GetProperty("key").GetString()));
        Assert.Equal(
            ["key=true@0", "days_silent == null || days_silent > 30=true@0", "days_silent == null=false@1", "days_silent=46@2", "days_silent > 30=true@1", "days_silent=46@2"],
            first.GetProperty("explain").EnumerateArray().Select(p => $"{p.GetProperty("expression").GetString()}={p.GetProperty("value").GetString()}@{p.GetProperty("depth").GetInt32()}"));

        // Without --explain the plan is the documented golden, unchanged.
        Assert.DoesNotContain("\"explain\"", CliRunner.Run("plan", CliRunner.Playbooks, "--as-of", "2026-03-02T09:00:00Z", "--format", "json").Out, StringComparison.Ordinal);
    }
}
