using System.CommandLine;
using System.Globalization;
using PlaybookRunner.Runtime;
using PlaybookRunner.Core;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Cli.Commands;

/// <summary><c>playbook plan</c>: read data, evaluate, render actions and print what would happen. No side effects.</summary>
internal static class PlanCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr, PlaybookEngine engine)
    {
        var paths = CliApp.PathsArgument();
        var format = new Option<string>("--format") { Description = "Output format", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "json", "markdown", "html");
        var asOf = AsOfOption();
        var output = new Option<string?>("--out") { Description = "Write the plan to this file instead of standard output" };
        var detailed = new Option<bool>("--detailed-exitcode") { Description = "Exit 0 when nothing is to be done, 2 when actions are pending, 1 on errors" };
        var maxActions = MaxActionsOption();
        var baseline = new Option<string?>("--baseline") { Description = "A plan written earlier with --format json (e.g. of the main branch): show what changed against it" };
        var explain = new Option<bool>("--explain") { Description = "In JSON, add to each finding the value of each part of its rule's condition" };
        var command = new Command("plan", "Preview findings and rendered actions without side effects.") { paths, format, asOf, output, detailed, maxActions, baseline, explain };
        command.SetAction(async (result, cancellationToken) =>
        {
            if (!TryAsOf(result.GetValue(asOf), engine.Options.Time, stderr, out var instant))
            {
                return CliApp.Usage;
            }

            var cwd = Directory.GetCurrentDirectory();
            var planned = await PlanProgress.RunAsync(stderr, engine.Options.Environment, progress =>
                engine.PlanAsync(CliApp.PathsOrDefault(result.GetValue(paths)), instant, cancellationToken, result.GetValue(maxActions), result.GetValue(explain), progress,
                    provenance: result.GetValue(format) == "json"));
            if (planned.Plan is not { } plan)
            {
                stderr.Write(DiagnosticFormatter.WriteText(planned.Diagnostics, cwd));
                stderr.WriteLine("Plan failed: fix the errors above.");
                return CliApp.Errors;
            }

            PlanChanges? changes = null;
            if (result.GetValue(baseline) is { } baselinePath)
            {
                var problems = new DiagnosticBag();
                var old = PlanDiff.ReadBaseline(baselinePath, problems);
                if (old is null)
                {
                    stderr.Write(DiagnosticFormatter.WriteText(problems.Items, cwd));
                    return CliApp.Errors;
                }

                changes = PlanDiff.Compare(old, plan);
            }

            // A JSON plan to a file is streamed into it; the other formats and standard output are rendered first.
            var streamed = result.GetValue(format) == "json" && result.GetValue(output) is not null;
            var rendered = streamed ? "" : result.GetValue(format) switch
            {
                "json" => PlanDocument.Write(plan, cwd, changes),
                "markdown" => PlanWriter.WriteMarkdown(new PlanView(plan, cwd, changes)),
                "html" => PlanWriter.WriteHtml(new PlanView(plan, cwd, changes)),
                _ => PlanWriter.WriteText(new PlanView(plan, cwd, changes)),
            };
            if (result.GetValue(output) is { } file)
            {
                try
                {
                    var full = Path.GetFullPath(file);
                    Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                    if (streamed)
                    {
                        using var stream = new FileStream(full, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
                        PlanDocument.Write(stream, plan, cwd, changes);
                    }
                    else
                    {
                        File.WriteAllText(full, rendered);
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    CliApp.Report(stderr, DiagnosticDescriptors.FileWrite, file, ex.Message.TrimEnd('.'));
                    return CliApp.Errors;
                }
            }
            else
            {
                stdout.Write(rendered);
            }

            if (result.GetValue(format) != "text" || result.GetValue(output) is not null)
            {
                stderr.Write(DiagnosticFormatter.WriteText(plan.Diagnostics, cwd));
                foreach (var line in PlanWriter.ErrorLines(plan.Errors, cwd, "playbook: "))
                {
                    stderr.WriteLine(line);
                }
            }

            if (plan.Errors.Count > 0 || plan.Diagnostics.Any(d => d.IsError))
            {
                return CliApp.Errors;
            }

            return result.GetValue(detailed) && plan.Summary.Actions > 0 ? CliApp.Usage : CliApp.Success;
        });
        return command;
    }

    /// <summary>The blast-radius guard shared by plan and run.</summary>
    public static Option<int?> MaxActionsOption()
    {
        var option = new Option<int?>("--max-actions") { Description = "Most actions the whole plan may hold: plan warns above it, run executes nothing" };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is < 0)
            {
                result.AddError("--max-actions must be 0 or more");
            }
        });
        return option;
    }

    public static Option<string?> AsOfOption() => new("--as-of") { Description = "Evaluate as of this instant (ISO 8601; no offset means UTC). Default: now" };

    public static bool TryAsOf(string? text, TimeProvider time, TextWriter stderr, out DateTimeOffset instant)
    {
        instant = time.GetUtcNow();
        if (text is null)
        {
            return true;
        }

        if (DateTimeOffset.TryParseExact(text.Trim(), DateFormats.AsOfInputs, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out instant))
        {
            return true;
        }

        CliApp.Report(stderr, DiagnosticDescriptors.BadInvocation, $"--as-of '{text}' is not an ISO 8601 date or time, e.g. 2026-03-02T09:00:00Z");
        return false;
    }
}
