using System.Globalization;
using System.Xml.Linq;
using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Core.Testing;

/// <summary>Writes test results as JUnit XML (one testsuite per file), the format CI systems display.</summary>
public static class JUnitWriter
{
    /// <summary>The results as JUnit XML; paths relative to <paramref name="baseDirectory"/>.</summary>
    public static string Write(TestRunResult result, string baseDirectory)
    {
        static string Seconds(TimeSpan time) => time.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);
        var suites = result.Tests.GroupBy(t => t.File).Select(file =>
        {
            var name = Path.GetRelativePath(baseDirectory, file.Key).Replace('\\', '/');
            return new XElement("testsuite",
                new XAttribute("name", Diagnostics.SafeText.OneLine(name)),
                new XAttribute("tests", file.Count()),
                new XAttribute("failures", file.Count(t => !t.Passed)),
                new XAttribute("errors", 0),
                new XAttribute("time", Seconds(TimeSpan.FromTicks(file.Sum(t => t.Duration.Ticks)))),
                file.Select(test => new XElement("testcase",
                    new XAttribute("classname", Diagnostics.SafeText.OneLine(name)),
                    new XAttribute("name", Diagnostics.SafeText.OneLine(test.Name)),
                    new XAttribute("file", Diagnostics.SafeText.OneLine(name)),
                    new XAttribute("line", test.Line),
                    new XAttribute("time", Seconds(test.Duration)),
                    test.Passed ? null : new XElement("failure",
                        new XAttribute("message", test.Failures[0].Message),
                        DiagnosticFormatter.WriteText(test.Failures, baseDirectory)))));
        }).ToList();
        if (result.Diagnostics.Any(d => d.IsError))
        {
            suites.Add(new XElement("testsuite",
                new XAttribute("name", "playbook test"), new XAttribute("tests", 1), new XAttribute("failures", 0), new XAttribute("errors", 1), new XAttribute("time", "0.000"),
                new XElement("testcase", new XAttribute("classname", "playbook test"), new XAttribute("name", "load"),
                    new XElement("error", new XAttribute("message", "the playbooks or tests do not load"),
                        DiagnosticFormatter.WriteText(result.Diagnostics.Where(d => d.IsError), baseDirectory)))));
        }

        var root = new XElement("testsuites",
            new XAttribute("name", "playbook test"),
            new XAttribute("tests", result.Tests.Count),
            new XAttribute("failures", result.Tests.Count(t => !t.Passed)),
            new XAttribute("errors", result.Diagnostics.Any(d => d.IsError) ? 1 : 0),
            new XAttribute("time", Seconds(TimeSpan.FromTicks(result.Tests.Sum(t => t.Duration.Ticks)))),
            suites);
        return new XDocument(new XDeclaration("1.0", "utf-8", null), root).Declaration + "\n" + root + "\n";
    }
}
