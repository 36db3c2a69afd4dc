using System.Text.Json;

namespace PlaybookRunner.Cli.Tests.Commands;

/// <summary>
/// <c>playbook suppress</c> and <c>unsuppress</c> edit suppressions.yaml as text, for review in git: one entry added
/// or removed, every other line kept; what they write is read back exactly, whatever the reason or key holds; and
/// what they refuse leaves the file as it was.
/// </summary>
public sealed class SuppressCommandTests
{
    private const string AsOf = "2026-03-02T09:00:00Z";

    private const string Original = """
        # Known findings we do not act on.
        suppressions:
          # Fenwick's partners meet our CEO monthly.
          - rule: p/quiet
            key: A
            until: 2099-06-30
            justification: Meetings are not logged in the CRM.

          - { rule: p/busy, key: C, justification: "On hold" }
        # end of list
        """;

    private static TempDir Workspace(string? suppressions = Original)
    {
        var dir = new TempDir();
        dir.Write("d.csv", "id,n\nA,5\nB,6\nC,7\nD,1\n");
        dir.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }
            rules:
              - { id: busy, when: n > 3 }
              - { id: quiet, when: n > 4 }
            """);
        dir.Write("q.yaml", """
            playbook: q
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }
            rules:
              - { id: other, when: n > 0 }
            """);
        if (suppressions is not null)
        {
            dir.Write("suppressions.yaml", suppressions);
        }

        return dir;
    }

    private static string File(TempDir dir) => System.IO.File.ReadAllText(Path.Combine(dir.Root, "suppressions.yaml"));

    /// <summary>The findings of a plan as "playbook/rule key: justification" (or "... pending").</summary>
    private static List<string> Plan(TempDir dir)
    {
        var plan = CliRunner.Run("plan", dir.Root, "--as-of", AsOf, "--format", "json");
        Assert.True(plan.ExitCode is 0, plan.Err);
        using var json = JsonDocument.Parse(plan.Out);
        return [.. json.RootElement.GetProperty("findings").EnumerateArray().Select(f =>
            $"{f.GetProperty("playbook").GetString()}/{f.GetProperty("rule").GetString()} {f.GetProperty("key").GetString()}: "
            + (f.GetProperty("suppressed").GetBoolean() ? f.GetProperty("justification").GetString() : "pending"))];
    }

    [Fact]
    public void Suppress_appends_one_entry_that_plan_honours_and_unsuppress_gives_back_the_file_as_it_was()
    {
        using var dir = Workspace();

        var suppress = CliRunner.Run("suppress", "p/busy", "B", dir.Root, "--until", "2099-12-31", "--reason", "Renewal talks under way");

        Assert.True(suppress.ExitCode == 0, suppress.Err);
        Assert.Equal($"added    p/busy  B until 2099-12-31: Renewal talks under way\n{TempDir.Display(Path.Combine(dir.Root, "suppressions.yaml"))} changed; commit it so that the change is reviewed (plan shows its effect)\n", suppress.Out.ReplaceLineEndings("\n"));
        Assert.Equal(Original + "\n" + """
              - rule: "p/busy"
                key: "B"
                until: 2099-12-31
                justification: "Renewal talks under way"

            """, File(dir));
        Assert.Contains("p/busy B: Renewal talks under way", Plan(dir));

        var unsuppress = CliRunner.Run("unsuppress", "busy", "B", dir.Root);

        Assert.True(unsuppress.ExitCode == 0, unsuppress.Err);
        Assert.StartsWith("removed  p/busy  B until 2099-12-31: Renewal talks under way\n", unsuppress.Out.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Equal(Original + "\n", File(dir));
        Assert.Contains("p/busy B: pending", Plan(dir));
    }

    [Theory]
    [InlineData("Customer said: \"call me in Q3\" # not before", "B")]
    [InlineData("- [x] { braces } & anchors *aliases !tags %percent @at `tick` | > '", "key: with # and \"quotes\"")]
    [InlineData("Ünïcödé ✓ — 客户 \\ backslash \\n not a newline", "- B")]
    [InlineData("yes", "null")]
    [InlineData("2026-01-01", "'single'")]
    public void A_reason_and_a_key_with_yaml_syntax_are_read_back_exactly(string reason, string key)
    {
        using var dir = Workspace();
        dir.Write("d.csv", $"id,n\nA,5\n{Csv(key)},6\n");

        var suppress = CliRunner.Run("suppress", "p/busy", key, dir.Root, "--reason", reason);

        Assert.True(suppress.ExitCode == 0, suppress.Err);
        Assert.Contains($"p/busy {key}: {reason}", Plan(dir));
        Assert.Equal(0, CliRunner.Run("validate", dir.Root).ExitCode);
        Assert.Equal(0, CliRunner.Run("unsuppress", "p/busy", key, dir.Root).ExitCode);
        Assert.Equal(Original + "\n", File(dir));
    }

    private static string Csv(string value) => "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    [Fact]
    public void Without_a_file_suppress_creates_it_and_removing_the_last_entry_leaves_an_empty_list()
    {
        using var dir = Workspace(suppressions: null);

        Assert.Equal(0, CliRunner.Run("suppress", "q/*", "*", dir.Root, "--reason", "Paused for the migration").ExitCode);

        Assert.Equal("""
            # Findings we know about and deliberately do not act on. Each needs a justification; plan shows it.
            suppressions:
              - rule: "q/*"
                justification: "Paused for the migration"

            """, File(dir));
        Assert.Equal(["q/other A: Paused for the migration", "q/other B: Paused for the migration", "q/other C: Paused for the migration", "q/other D: Paused for the migration"],
            Plan(dir).Where(f => f.StartsWith("q/", StringComparison.Ordinal)));

        Assert.Equal(0, CliRunner.Run("unsuppress", "q/*", "*", dir.Root).ExitCode);
        Assert.EndsWith("suppressions: []\n", File(dir), StringComparison.Ordinal);
        Assert.Equal(0, CliRunner.Run("validate", dir.Root).ExitCode);
    }

    [Fact]
    public void Suppressing_a_rule_and_key_again_replaces_the_entry()
    {
        using var dir = Workspace();

        var again = CliRunner.Run("suppress", "p/quiet", "A", dir.Root, "--reason", "Still meeting monthly");

        Assert.True(again.ExitCode == 0, again.Err);
        Assert.StartsWith("removed  p/quiet  A until 2099-06-30: Meetings are not logged in the CRM.\nadded    p/quiet  A: Still meeting monthly\n", again.Out.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.DoesNotContain("Meetings are not logged", File(dir), StringComparison.Ordinal);
        Assert.Contains("# Fenwick's partners meet our CEO monthly.", File(dir), StringComparison.Ordinal);
        Assert.Contains("p/quiet A: Still meeting monthly", Plan(dir));
    }

    [Fact]
    public void A_pattern_pauses_every_rule_of_every_playbook_for_one_customer()
    {
        using var dir = Workspace();

        var suppress = CliRunner.Run("suppress", "*/*", "B", dir.Root, "--reason", "Legal hold: no outreach at all");

        Assert.True(suppress.ExitCode == 0, suppress.Err);
        Assert.Contains("  - rule: \"*/*\"\n    key: \"B\"\n", File(dir), StringComparison.Ordinal);
        Assert.Equal(["p/busy B: Legal hold: no outreach at all", "p/quiet B: Legal hold: no outreach at all", "q/other B: Legal hold: no outreach at all"],
            Plan(dir).Where(f => f.Contains(" B: ", StringComparison.Ordinal)));
        Assert.Contains("q/other A: pending", Plan(dir));
    }

    [Theory]
    [InlineData(new[] { "suppress", "p/bussy", "B", "--reason", "x" }, "'p/bussy' is not a rule of any playbook here; did you mean 'p/busy'?")]
    [InlineData(new[] { "suppress", "p/busy", "B", "--until", "2020-01-01", "--reason", "x" }, "--until 2020-01-01 is in the past")]
    [InlineData(new[] { "suppress", "p/busy", "B", "--reason", "  " }, "--reason must be one line of 1 to 500 characters")]
    [InlineData(new[] { "suppress", "p/busy", "B", "--reason", "two\nlines" }, "--reason must be one line of 1 to 500 characters")]
    [InlineData(new[] { "suppress", "p/busy", "B\u001b[31m", "--reason", "x" }, "KEY must be a customer key")]
    [InlineData(new[] { "suppress", "nowhere", "B", "--reason", "x" }, "'nowhere' is not playbook/rule, playbook/*, a pattern such as */* or the id of a rule only one playbook has")]
    [InlineData(new[] { "suppress", "p/bu*y-x", "B", "--reason", "x" }, "'p/bu*y-x' is not a rule of any playbook here")]
    [InlineData(new[] { "unsuppress", "p/quiet", "B" }, "no suppression of 'p/quiet' for key 'B'; it has one for key 'A'")]
    [InlineData(new[] { "unsuppress", "p/busy", "*" }, "no suppression of 'p/busy' for every customer; it has one for key 'C'")]
    public void A_refused_change_is_a_diagnostic_and_leaves_the_file_as_it_was(string[] args, string expected)
    {
        using var dir = Workspace();

        var result = CliRunner.Run([args[0], args[1], args[2], dir.Root, .. args[3..]]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error PB1041: suppressions.yaml was not changed: " + expected, result.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Err, StringComparison.Ordinal);
        Assert.Equal(Original, File(dir));
    }

    [Fact]
    public void A_file_it_cannot_edit_as_text_is_refused_and_kept()
    {
        using var dir = Workspace("suppressions: [ { rule: p/busy, key: C, justification: On hold } ]\n");

        var result = CliRunner.Run("suppress", "p/busy", "B", dir.Root, "--reason", "x");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("its list is written on one line ([...]); write it as a block list", result.Err, StringComparison.Ordinal);
        Assert.Equal("suppressions: [ { rule: p/busy, key: C, justification: On hold } ]\n", File(dir));

        var bad = CliRunner.Run("suppress", "p/busy", "B", dir.Root, "--until", "31/12/2099", "--reason", "x");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--until must be a date (YYYY-MM-DD), not '31/12/2099'", bad.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void A_suppressions_file_that_is_a_link_is_not_written_through()
    {
        using var dir = Workspace(suppressions: null);
        using var elsewhere = new TempDir();
        var target = elsewhere.Write("outside.yaml", Original);
        System.IO.File.CreateSymbolicLink(Path.Combine(dir.Root, "suppressions.yaml"), target);

        var result = CliRunner.Run("suppress", "p/busy", "B", dir.Root, "--reason", "x");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("suppressions.yaml is a symbolic link; it is not read, and it is not written through", result.Err, StringComparison.Ordinal);
        Assert.Equal(Original, System.IO.File.ReadAllText(target));
    }
}
