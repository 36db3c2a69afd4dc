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
        Assert.Equal(30, Regex.Count(html, "<article class=\"finding\""));

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
