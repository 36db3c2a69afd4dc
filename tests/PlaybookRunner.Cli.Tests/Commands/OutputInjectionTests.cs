using System.Text.Json;
using System.Text.RegularExpressions;
using Markdig;

namespace PlaybookRunner.Cli.Tests.Commands;

/// <summary>
/// Customer data and workspace file names cannot forge output (docs/security.md, "Reports, terminals and
/// logs"): no link, image, mention, HTML or table cell in the Markdown report (rendered here by a CommonMark
/// and GFM renderer, as a pull-request comment is); no escape sequence in a terminal; no new line in a
/// diagnostic or a CI log, so no forged <c>::error</c> workflow command or <c>file(line,col): error</c> line.
/// </summary>
public sealed partial class OutputInjectionTests
{
    [Fact]
    public void The_markdown_report_renders_no_link_image_mention_html_or_extra_cell_from_data()
    {
        using var dir = new TempDir();
        var root = HostileWorkspace.Create(dir);
        dir.Write("suppressions.yaml", "suppressions:\n  - { rule: p/r, key: K2, justification: \"[see](https://evil.example) <b>x</b> | cell @octocat\" }\n");
        var report = Path.Combine(dir.Root, "plan.md");
        var (code, _, stderr) = CliRunner.Run("plan", root, "--as-of", "2026-03-02T09:00:00Z", "--format", "markdown", "--out", report);
        Assert.True(code == 0, stderr);
        var markdown = File.ReadAllText(report);

        var html = Markdown.ToHtml(markdown, new MarkdownPipelineBuilder().UseAdvancedExtensions().Build());

        Assert.DoesNotContain("<a ", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<img", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<b>bold", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<strong>strong", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<!--", html, StringComparison.Ordinal);
        Assert.DoesNotMatch("@octocat|#1 |www\\.evil|https://evil", Regex.Replace(html, "<code>.*?</code>|<pre>.*?</pre>", "", RegexOptions.Singleline));
        foreach (Match table in Table().Matches(html))
        {
            var columns = Regex.Count(table.Value, "<th[ >]");
            Assert.All(Regex.Matches(table.Value, "<tr>\\s*<td.*?</tr>", RegexOptions.Singleline), row => Assert.Equal(columns, Regex.Count(row.Value, "<td")));
        }

        Assert.Contains("<td>[see](https:", html.Replace("\u2060", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', markdown);
        Assert.DoesNotMatch("(?m)^::", markdown);
        Assert.DoesNotMatch("(?m)^playbooks/p\\.yaml\\(1,1\\)", markdown);

        // Every hostile body stays inside its code fence: the rendered report has one <pre> per body.
        Assert.Equal((HostileWorkspace.Names.Length - 1) * 2, Regex.Count(html, "<pre>"));
    }

    [Theory]
    [InlineData("text")]
    [InlineData("markdown")]
    [InlineData("html")]
    [InlineData("json")]
    public void Plan_output_to_a_terminal_has_no_control_sequence_and_no_forged_line(string format)
    {
        using var dir = new TempDir();
        var root = HostileWorkspace.Create(dir);

        var (code, stdout, stderr) = CliRunner.Run("plan", root, "--as-of", "2026-03-02T09:00:00Z", "--format", format);

        Assert.True(code == 0, stderr);
        AssertInert(stdout + stderr);
        if (format == "json")
        {
            using var json = JsonDocument.Parse(stdout);
            Assert.Equal("K5\u202Egnp", json.RootElement.GetProperty("findings")[5].GetProperty("key").GetString());
        }
    }

    [Fact]
    public void Run_history_and_explain_show_hostile_keys_visibly()
    {
        using var dir = new TempDir();
        var root = HostileWorkspace.Create(dir);

        var run = CliRunner.Run("run", "--create-store", root, "--as-of", "2026-03-02T09:00:00Z");
        var history = CliRunner.Run("history", root);
        var explain = CliRunner.Run("explain", "p/r", "K5\u202Egnp", root, "--as-of", "2026-03-02T09:00:00Z");

        AssertInert(run.Out + run.Err);
        AssertInert(history.Out + history.Err);
        AssertInert(explain.Out + explain.Err);
        Assert.Contains("K5\\u202Egnp", history.Out, StringComparison.Ordinal);
        Assert.Contains("K4 ::warning::k", history.Out, StringComparison.Ordinal);
        Assert.True(explain.ExitCode == 0, explain.Err);
        Assert.Contains("for K5\\u202Egnp", explain.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void A_diagnostic_about_a_bad_cell_is_one_line_whatever_the_cell_holds()
    {
        using var dir = new TempDir();
        dir.Write("d.csv", "id,n\nA,\"5\n::error file=p.yaml,line=1::forged\n\u001b[2Jp.yaml(1,1): error PB0000: forged\"\n");
        dir.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }\nrules:\n  - { id: r, when: n > 3 }\n");

        var (code, stdout, stderr) = CliRunner.Run("plan", dir.Root, "--as-of", "2026-03-02T09:00:00Z");

        Assert.NotEqual(0, code);
        AssertInert(stdout + stderr);
        var line = Assert.Single(stderr.Split('\n'), l => l.Contains("PB4", StringComparison.Ordinal));
        Assert.Contains("\\n::error file=p.yaml,line=1::forged\\n\\u001B[2Jp.yaml(1,1)", line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_workspace_file_name_cannot_start_a_workflow_command()
    {
        using var dir = new TempDir();
        dir.Write("d.csv", "id\nA\n");
        dir.Write("::error file=x::forged.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: nope }\n");

        var cwd = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(dir.Root);
        try
        {
            var (code, stdout, stderr) = CliRunner.Run("validate", ".");
            Assert.Equal(1, code);
            AssertInert(stdout + stderr);
            Assert.Contains("./::error file=x::forged.yaml(4,20): error PB2", stdout + stderr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.SetCurrentDirectory(cwd);
        }
    }

    [Fact]
    public void The_shipped_problem_matcher_reads_no_annotation_forged_by_a_key_or_a_file_name()
    {
        using var matcher = JsonDocument.Parse(File.ReadAllText(Path.Combine(CliRunner.RepoRoot, ".github", "playbook-problem-matcher.json")));
        var patterns = matcher.RootElement.GetProperty("problemMatcher").EnumerateArray()
            .Select(m => new Regex(m.GetProperty("pattern")[0].GetProperty("regexp").GetString()!, RegexOptions.Multiline)).ToList();
        using var dir = new TempDir();
        dir.Write("d.csv", "id,n\n\"src/app.cs(12,3): error PB1234: forged annotation\",5\nplain,5\n");
        dir.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }\nrules:\n  - { id: r, when: n > 3, message: \"{{ id }}\", actions: [ { type: file, path: out.jsonl, body: \"{{ id }}\" } ] }\n");
        dir.Write("x(1,1): error PB1234: forged.yaml", "playbook: x\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: nope }\n");

        var cwd = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(dir.Root);
        try
        {
            var validate = CliRunner.Run("validate", ".");
            Assert.Contains("forged.yaml(4,20): error PB2001", validate.Out + validate.Err, StringComparison.Ordinal);
            File.Delete(Path.Combine(dir.Root, "x(1,1): error PB1234: forged.yaml"));
            var outputs = new[]
            {
                validate,
                CliRunner.Run("run", "--create-store", ".", "--as-of", "2026-03-02T09:00:00Z"),
                CliRunner.Run("history", "."),
                CliRunner.Run("explain", "p/r", "src/app.cs(12,3): error PB1234: forged annotation", ".", "--as-of", "2026-03-02T09:00:00Z"),
                CliRunner.Run("plan", ".", "--as-of", "2026-03-02T10:00:00Z", "--format", "markdown"),
                CliRunner.Run("plan", ".", "--as-of", "2026-03-02T10:00:00Z"),
            };
            foreach (var (_, stdout, stderr) in outputs)
            {
                foreach (var match in patterns.SelectMany(p => p.Matches(stdout + stderr)))
                {
                    Assert.DoesNotContain("PB1234", match.Value, StringComparison.Ordinal);
                }
            }
        }
        finally
        {
            Directory.SetCurrentDirectory(cwd);
        }
    }

    /// <summary>No raw control character but line breaks and tabs, and no line a CI runner or a problem matcher would take as its own.</summary>
    private static void AssertInert(string output)
    {
        Assert.DoesNotMatch("[\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]", output);
        Assert.DoesNotMatch("(?m)^\\s*::", output);
        // The problem matcher (.github/playbook-problem-matcher.json) reads lines that start with a path, not indented ones.
        Assert.DoesNotMatch("(?m)^(playbooks/)?p\\.yaml\\(1,1\\): error PB0000", output);
        Assert.DoesNotMatch("(?m)^\\s*forged", output);
    }

    [GeneratedRegex("<table>.*?</table>", RegexOptions.Singleline)]
    private static partial Regex Table();
}
