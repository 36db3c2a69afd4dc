using System.Text.Json;
using System.Text.RegularExpressions;

namespace PlaybookRunner.Cli.Tests.Commands;

/// <summary>plan --baseline, and the markdown and HTML reports (the HTML report in a real browser: tests/PlaybookRunner.EndToEnd.Tests).</summary>
public sealed class PlanReportTests
{
    private const string Playbook = """
        playbook: p
        source: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }
        rules:
          - id: busy
            severity: critical
            when: n > 3
            message: "{{ id }} has {{ n }} tickets"
            actions: [ { type: webhook, url: "http://127.0.0.1:9/hook", body: '{"id": "{{ id }}", "n": {{ n }}}' } ]
        """;

    [Theory]
    [InlineData("text")]
    [InlineData("json")]
    [InlineData("markdown")]
    [InlineData("html")]
    public void Baseline_works_when_the_plan_carries_a_max_actions_warning(string format)
    {
        using var dir = new TempDir();
        dir.Write("d.csv", "id,n\nA,5\nB,6\nC,1\n");
        dir.Write("p.yaml", Playbook.Replace("rules:", "max_actions: 1\nrules:", StringComparison.Ordinal));
        var baseline = Path.Combine(dir.Root, "base.json");
        Assert.Equal(0, CliRunner.Run("plan", dir.Root, "--as-of", "2026-03-02T09:00:00Z", "--format", "json", "--out", baseline).ExitCode);
        dir.Write("d.csv", "id,n\nA,5\nB,6\nC,9\n");

        var (code, stdout, stderr) = CliRunner.Run("plan", dir.Root, "--as-of", "2026-03-02T09:00:00Z", "--baseline", baseline, "--format", format);

        Assert.True(code == 0, stdout + stderr);
        Assert.DoesNotContain("internal error", stderr, StringComparison.Ordinal);
        Assert.Contains("PB5005", stdout + stderr, StringComparison.Ordinal);
        if (format == "json")
        {
            using var json = JsonDocument.Parse(stdout);
            Assert.Equal("C", Assert.Single(json.RootElement.GetProperty("changes").GetProperty("added").EnumerateArray()).GetProperty("key").GetString());
        }
        else
        {
            Assert.Contains(format == "text" ? "1 added" : "1 new and 0 changed", stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Baseline_shows_findings_added_removed_and_changed()
    {
        using var dir = new TempDir();
        dir.Write("d.csv", "id,n\nA,5\nB,6\nC,1\n");
        var playbook = dir.Write("p.yaml", Playbook);
        var baseline = Path.Combine(dir.Root, "base.json");
        Assert.Equal(0, CliRunner.Run("plan", dir.Root, "--as-of", "2026-03-02T09:00:00Z", "--format", "json", "--out", baseline).ExitCode);

        File.WriteAllText(playbook, Playbook.Replace("has {{ n }} tickets", "has {{ n }} open tickets", StringComparison.Ordinal));
        File.Delete(Path.Combine(dir.Root, "d.csv"));
        dir.Write("d.csv", "id,n\nB,7\nC,4\n");
        var text = CliRunner.Run("plan", dir.Root, "--as-of", "2026-03-02T09:00:00Z", "--baseline", baseline);
        Assert.Equal(0, text.ExitCode);
        Assert.StartsWith(
            """
            Plan as of 2026-03-02T09:00:00+00:00

            Changes against the baseline plan as of 2026-03-02T09:00:00+00:00: 1 added, 1 removed, 1 changed
              + p/busy C
              - p/busy A
              ~ p/busy B
                  actions[0].body: "{"id": "B", "n": 6}" -> "{"id": "B", "n": 7}"
                  message: "B has 6 tickets" -> "B has 7 open tickets"

            """,
            text.Out.ReplaceLineEndings("\n"),
            StringComparison.Ordinal);

        var json = CliRunner.Run("plan", dir.Root, "--as-of", "2026-03-02T09:00:00Z", "--baseline", baseline, "--format", "json");
        using var document = JsonDocument.Parse(json.Out);
        var changes = document.RootElement.GetProperty("changes");
        Assert.Equal("2026-03-02T09:00:00+00:00", changes.GetProperty("baselineAsOf").GetString());
        Assert.Equal("C", changes.GetProperty("added")[0].GetProperty("key").GetString());
        Assert.Equal("A", changes.GetProperty("removed")[0].GetProperty("key").GetString());
        var changed = changes.GetProperty("changed")[0];
        Assert.Equal(("B", "message", "B has 6 tickets", "B has 7 open tickets"), (
            changed.GetProperty("key").GetString(),
            changed.GetProperty("fields")[1].GetProperty("path").GetString(),
            changed.GetProperty("fields")[1].GetProperty("before").GetString(),
            changed.GetProperty("fields")[1].GetProperty("after").GetString()));

        var markdown = CliRunner.Run("plan", dir.Root, "--as-of", "2026-03-02T09:00:00Z", "--baseline", baseline, "--format", "markdown");
        Assert.Contains("Against the baseline as of 2026-03-02T09:00:00+00:00: 1 new and 1 changed (marked on the findings), 1 gone (listed at the end).", markdown.Out, StringComparison.Ordinal);
        Assert.Contains("<details><summary>**changed** · <b>p/busy</b> · <code>B</code>", markdown.Out, StringComparison.Ordinal);
        Assert.Contains("- changed `message`: `\"B has 6 tickets\"` → `\"B has 7 open tickets\"`", markdown.Out, StringComparison.Ordinal);
        Assert.Contains("<details><summary>**new** · <b>p/busy</b> · <code>C</code>", markdown.Out, StringComparison.Ordinal);
        Assert.Contains("### Gone since the baseline (1)\n\n- :heavy_minus_sign: `p/busy A`", markdown.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void A_baseline_that_is_not_a_plan_is_a_diagnostic_with_its_position()
    {
        using var dir = new TempDir();
        dir.Write("d.csv", "id,n\nA,5\n");
        dir.Write("p.yaml", Playbook);
        var broken = dir.Write("broken.json", "{\n  \"asOf\": \"x\",\n  \"findings\": [ oops ]\n}\n");
        var other = dir.Write("other.json", "{ \"hello\": 1 }\n");
        var (code, _, stderr) = CliRunner.Run("plan", dir.Root, "--baseline", broken);
        Assert.Equal(1, code);
        Assert.StartsWith($"{TempDir.Display(broken)}(3,17): error PB1028: Baseline plan: not valid JSON: 'o' is an invalid start of a value", stderr, StringComparison.Ordinal);
        Assert.Equal($"{TempDir.Display(other)}(1,1): error PB1028: Baseline plan: it is JSON, but not a plan (no asOf and findings[]); write it with plan --format json --out FILE\n",
            CliRunner.Run("plan", dir.Root, "--baseline", other).Err.ReplaceLineEndings("\n"));
        Assert.Contains("error PB1028: Baseline plan: Could not find file", CliRunner.Run("plan", dir.Root, "--baseline", Path.Combine(dir.Root, "none.json")).Err, StringComparison.Ordinal);
    }

    [Fact]
    public void Markdown_report_counts_per_rule_and_lists_pending_suppressed_held_back_and_waiting_findings()
    {
        var (code, stdout, _) = CliRunner.Run("plan", CliRunner.Playbooks, "--as-of", "2026-03-02T09:00:00Z", "--format", "markdown");
        Assert.Equal(0, code);
        var md = stdout.ReplaceLineEndings("\n");
        Assert.StartsWith("## Playbook plan as of 2026-03-02T09:00:00+00:00\n\n**25 actions pending** from 30 findings over 40 records; 1 suppressed, 0 held back by a cooldown, 0 errors, 5 waiting for for:, 1 deferred by a throttle.\n", md, StringComparison.Ordinal);
        Assert.Contains("| key-client-care | no-contact-30d | warning | 4 | 3 | 1 | 0 |\n", md, StringComparison.Ordinal);
        Assert.Contains("| ticket-escalation | stale-ticket | critical | 5 | 5 | 0 | 0 |\n", md, StringComparison.Ordinal);
        Assert.Contains("### Pending findings (23)", md, StringComparison.Ordinal);
        Assert.Equal(23, Regex.Count(md, "<details>"));
        Assert.Contains("### Waiting for their rule's `for:` (5)\n\n| Finding | Pending since | Fires |\n|---|---|---|\n| `ticket-escalation/ticket-pileup C-1002` | 2026-03-02T09:00:00+00:00 | 2026-03-04T09:00:00+00:00 |", md, StringComparison.Ordinal);
        Assert.Contains("### Suppressed (1)\n\n| Finding | Justification |\n|---|---|\n| `key-client-care/no-contact-30d C-1006` | Fenwick &amp; Hale's partners meet our CEO monthly", md, StringComparison.Ordinal);
    }
}
