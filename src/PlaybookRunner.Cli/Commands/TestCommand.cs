using System.CommandLine;
using System.Globalization;
using PlaybookRunner.Core;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Testing;

namespace PlaybookRunner.Cli.Commands;

/// <summary><c>playbook test</c>: run the *.test.yaml playbook tests.</summary>
internal static class TestCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr, PlaybookEngine engine)
    {
        var paths = CliApp.PathsArgument();
        var junit = new Option<string?>("--junit") { Description = "Also write the results as JUnit XML to this file" };
        var coverage = new Option<bool>("--coverage") { Description = "List the rules no test expectation names" };
        var command = new Command("test", "Run the playbook tests (*.test.yaml): records, an as-of time, history, and what must fire.") { paths, junit, coverage };
        command.SetAction(async (result, cancellationToken) =>
        {
            var run = await engine.TestAsync(CliApp.PathsOrDefault(result.GetValue(paths)), cancellationToken);
            var cwd = Directory.GetCurrentDirectory();
            stderr.Write(DiagnosticFormatter.WriteText(run.Diagnostics, cwd));
            foreach (var test in run.Tests)
            {
                var file = Path.GetRelativePath(cwd, test.File).Replace('\\', '/');
                stdout.WriteLine($"{(test.Passed ? "ok  " : "FAIL")} {file}: {SafeText.OneLine(test.Name)}");
                stdout.Write(DiagnosticFormatter.WriteText(test.Failures, cwd));
            }

            var failed = run.Tests.Count(t => !t.Passed);
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Tests: {run.Tests.Count - failed} passed, {failed} failed"));
            if (result.GetValue(coverage))
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Coverage: {run.Rules.Count - run.UncoveredRules.Count} of {run.Rules.Count} rules have a test"));
                foreach (var rule in run.UncoveredRules)
                {
                    stdout.WriteLine($"  not covered: {rule}");
                }
            }

            if (result.GetValue(junit) is { } path)
            {
                try
                {
                    File.WriteAllText(path, JUnitWriter.Write(run, cwd));
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    CliApp.Report(stderr, DiagnosticDescriptors.FileWrite, path, ex.Message.TrimEnd('.'));
                    return CliApp.Errors;
                }
            }

            return run.Success ? CliApp.Success : CliApp.Errors;
        });
        return command;
    }
}
