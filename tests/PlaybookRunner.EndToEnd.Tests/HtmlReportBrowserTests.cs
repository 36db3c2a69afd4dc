using System.Text.RegularExpressions;

namespace PlaybookRunner.EndToEnd.Tests;

/// <summary>The HTML plan report opened in a real headless Chromium (Debian's): it loads offline, without errors, and filters.</summary>
public sealed class HtmlReportBrowserTests
{
    [Fact]
    public void Html_report_loads_in_headless_chromium_without_errors_and_filters_findings()
    {
        using var dir = new TempDir();
        var report = Path.Combine(dir.Root, "plan.html");
        var plan = CliRunner.Run("plan", CliRunner.Playbooks, "--as-of", "2026-03-02T09:00:00Z", "--format", "html", "--out", report);
        Assert.Equal(0, plan.ExitCode);
        var html = File.ReadAllText(report);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal(30, Regex.Count(html, "<details class=\"finding\""));
        Assert.Equal(5, Regex.Count(html, "<section class=\"owner\""));

        var (all, allLog) = Chromium(report, "");
        Assert.Contains("<body data-ready=\"true\" data-total=\"30\" data-shown=\"30\">", all, StringComparison.Ordinal);
        Assert.Contains("<span id=\"shown\">30</span> of 30 findings shown", all, StringComparison.Ordinal);
        Assert.Contains("Brightwater Logistics plc: no contact for 46 days", all, StringComparison.Ordinal);
        Assert.Contains("<iframe sandbox=\"\" title=\"email body\" srcdoc=\"&lt;p&gt;Hello,&lt;/p&gt;", all, StringComparison.Ordinal);
        Assert.DoesNotMatch("CONSOLE|Uncaught|Content Security Policy", allLog);

        var (filtered, filteredLog) = Chromium(report, "#rule=key-client-care/no-contact-30d&state=pending");
        Assert.Contains("data-shown=\"3\"", filtered, StringComparison.Ordinal);
        Assert.Contains("<span id=\"shown\">3</span> of 30 findings shown", filtered, StringComparison.Ordinal);
        Assert.DoesNotMatch("CONSOLE|Uncaught|Content Security Policy", filteredLog);

        // One owner's worklist: the other owners' sections are hidden; critical first, then the biggest accounts.
        var (owner, ownerLog) = Chromium(report, "#owner=ann.lee@example.com");
        Assert.Contains("data-shown=\"7\"", owner, StringComparison.Ordinal);
        Assert.Matches("<section class=\"owner\" data-owner=\"raj.patel@example.com\" hidden=\"\"", owner);
        Assert.DoesNotMatch("<section class=\"owner\" data-owner=\"ann.lee@example.com\" hidden", owner);
        var severities = Regex.Matches(html[html.IndexOf("data-owner=\"ann.lee@example.com\"><h3>", StringComparison.Ordinal)..].Split("</section>")[0], "<details class=\"finding\"[^>]* data-severity=\"(\\w+)\"")
            .Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(severities.OrderBy(v => v switch { "critical" => 0, "warning" => 1, _ => 2 }), severities);
        Assert.DoesNotMatch("CONSOLE|Uncaught|Content Security Policy", ownerLog);
    }

    [Fact]
    public void With_a_baseline_the_html_report_marks_new_and_changed_findings_on_the_findings_in_headless_chromium()
    {
        using var dir = new TempDir();
        var baseline = Path.Combine(dir.Root, "base.json");
        Assert.Equal(0, CliRunner.Run("plan", CliRunner.Playbooks, "--as-of", "2026-02-20T09:00:00Z", "--format", "json", "--out", baseline).ExitCode);
        var report = Path.Combine(dir.Root, "plan.html");
        Assert.Equal(0, CliRunner.Run("plan", CliRunner.Playbooks, "--as-of", "2026-03-02T09:00:00Z", "--baseline", baseline, "--format", "html", "--out", report).ExitCode);

        var (dom, log) = Chromium(report, "");
        Assert.Contains("data-ready=\"true\"", dom, StringComparison.Ordinal);
        Assert.Matches("<details class=\"finding\"[^>]* data-change=\"new\">", dom);
        Assert.Matches("<details class=\"finding\"[^>]* data-change=\"changed\">[^<]*<summary>.*<span class=\"mark changed\">changed</span>", dom);
        Assert.Contains("<p id=\"changes\">Against the baseline as of 2026-02-20T09:00:00+00:00:", dom, StringComparison.Ordinal);
        Assert.DoesNotContain("<section id=\"changes\">", dom, StringComparison.Ordinal);
        Assert.DoesNotMatch("CONSOLE|Uncaught|Content Security Policy", log);
    }

    [Fact]
    public void The_html_report_shows_hostile_data_as_text_in_headless_chromium()
    {
        using var dir = new TempDir();
        var root = HostileWorkspace.Create(dir);
        var report = Path.Combine(dir.Root, "plan.html");
        Assert.Equal(0, CliRunner.Run("plan", root, "--as-of", "2026-03-02T09:00:00Z", "--format", "html", "--out", report).ExitCode);
        Assert.DoesNotMatch("(?m)^::|(?m)^playbooks/p\\.yaml\\(1,1\\)", File.ReadAllText(report));

        var (dom, log) = Chromium(report, "");

        Assert.Contains("data-ready=\"true\"", dom, StringComparison.Ordinal);
        Assert.DoesNotContain("<img src=\"x\"", dom, StringComparison.Ordinal);
        Assert.DoesNotContain("<b>bold</b>", dom, StringComparison.Ordinal);
        Assert.Contains("&lt;img src=x onerror=alert(1)&gt;&lt;b&gt;bold&lt;/b&gt;", dom, StringComparison.Ordinal);
        Assert.DoesNotMatch("Uncaught|Content Security Policy", log);
    }

    /// <summary>Opens the file in Debian's headless Chromium; returns the DOM after scripts ran, and the browser's log.</summary>
    private static (string Dom, string Log) Chromium(string file, string fragment)
    {
        var (code, stdout, stderr) = ProcessRunner.Run("bash",
            [Path.Combine(CliRunner.RepoRoot, "tests", "scripts", "chromium.sh"), "--enable-logging=stderr", "--v=0", "--dump-dom", new Uri(file).AbsoluteUri + fragment]);
        Assert.True(code == 0, $"chromium exited {code}: {stderr}");
        return (stdout, string.Join('\n', stderr.Split('\n').Where(l => !l.Contains("dbus", StringComparison.Ordinal))));
    }
}
