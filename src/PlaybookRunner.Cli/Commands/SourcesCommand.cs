using System.CommandLine;
using PlaybookRunner.Core;
using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Cli.Commands;

/// <summary><c>playbook sources describe NAME [PATH...]</c>: the fields a source yields, and fields inferred from its data.</summary>
internal static class SourcesCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr, PlaybookEngine engine)
    {
        var name = new Argument<string>("NAME") { Description = "A source named in runner.yaml" };
        var paths = CliApp.PathsArgument();
        var describe = new Command("describe", "Print the fields a source yields; for csv and jsonl also fields inferred from a sample, as YAML for fields:.") { name, paths };
        describe.SetAction(async (result, cancellationToken) =>
        {
            var (text, diagnostics) = await engine.DescribeSourceAsync(CliApp.PathsOrDefault(result.GetValue(paths)), result.GetValue(name)!, cancellationToken);
            stderr.Write(DiagnosticFormatter.WriteText(diagnostics, Directory.GetCurrentDirectory()));
            if (text is null)
            {
                return CliApp.Errors;
            }

            stdout.Write(text);
            return diagnostics.Any(d => d.IsError) ? CliApp.Errors : CliApp.Success;
        });
        return new Command("sources", "Inspect data sources.") { describe };
    }
}
