using System.CommandLine;
using System.Reflection;
using PlaybookRunner.Core;
using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Cli.Commands;

/// <summary><c>playbook validate</c>: parse, schema-check and compile; read no data.</summary>
internal static class ValidateCommand
{
    public static Command Create(TextWriter stdout, PlaybookEngine engine)
    {
        var paths = CliApp.PathsArgument();
        var format = new Option<string>("--format") { Description = "Output format", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "json", "sarif");
        var command = new Command("validate", "Check playbooks like a compiler: YAML, schema, C# conditions, templates, sources.") { paths, format };
        command.SetAction(async (result, cancellationToken) =>
        {
            var validation = await engine.ValidateAsync(CliApp.PathsOrDefault(result.GetValue(paths)), cancellationToken);
            var cwd = Directory.GetCurrentDirectory();
            switch (result.GetValue(format))
            {
                case "json":
                    stdout.Write(DiagnosticFormatter.WriteJson(validation.Diagnostics, cwd));
                    break;
                case "sarif":
                    stdout.Write(DiagnosticFormatter.WriteSarif(validation.Diagnostics, cwd, Version));
                    break;
                default:
                    stdout.Write(DiagnosticFormatter.WriteText(validation.Diagnostics, cwd));
                    var errors = validation.Diagnostics.Count(d => d.IsError);
                    var warnings = validation.Diagnostics.Count(d => d.Severity == DiagnosticSeverity.Warning);
                    stdout.WriteLine(validation.Success
                        ? $"Validated {validation.Playbooks} playbook(s), {validation.Rules} rule(s): {errors} error(s), {warnings} warning(s)"
                        : $"Validation failed: {errors} error(s), {warnings} warning(s)");
                    break;
            }

            return validation.Success ? CliApp.Success : CliApp.Errors;
        });
        return command;
    }

    public static string Version =>
        typeof(ValidateCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
}
