using System.CommandLine;
using System.Globalization;
using PlaybookRunner.Core;
using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Cli.Commands;

/// <summary><c>playbook run</c>: what plan shows, executed once, each action recorded in the state store.</summary>
internal static class RunCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr, TimeProvider time)
    {
        var paths = CliApp.PathsArgument();
        var asOf = PlanCommand.AsOfOption();
        var maxActions = PlanCommand.MaxActionsOption();
        var command = new Command("run", "Execute the actions plan shows, once; finish actions a crashed run left pending first.") { paths, asOf, maxActions };
        command.SetAction(async (result, cancellationToken) =>
        {
            if (!PlanCommand.TryAsOf(result.GetValue(asOf), time, stderr, out var instant))
            {
                return CliApp.Usage;
            }

            var cwd = Directory.GetCurrentDirectory();
            var run = await PlaybookEngine.RunAsync(CliApp.PathsOrDefault(result.GetValue(paths)), instant, time, cancellationToken, result.GetValue(maxActions));
            foreach (var action in run.Actions)
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{(action.Succeeded ? "ok  " : action.Abandoned ? "left" : "FAIL")} {action.Playbook}/{action.Rule} {action.Key} {action.Type}{(action.Recovered ? " (recovered)" : "")}: {action.Message}"));
            }

            stderr.Write(DiagnosticFormatter.WriteText(run.Diagnostics, cwd));
            if (run.Plan is { } plan)
            {
                foreach (var error in plan.Errors)
                {
                    stderr.WriteLine($"playbook: error {error.Id}: {error.Playbook}: {error.Message}");
                }

                var failed = run.Actions.Count(a => !a.Succeeded && !a.Abandoned);
                var left = run.Actions.Count(a => a.Abandoned);
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Run as of {Core.Planning.Planner.FormatInstant(plan.AsOf)}: {run.Actions.Count - failed - left} actions succeeded, {failed} failed, {plan.Summary.Suppressed} suppressed, {plan.Summary.HeldBack} held back, {plan.Errors.Count} errors{(left > 0 ? $", {left} left to the runner that claimed them" : "")}"));
            }

            return run.Success ? CliApp.Success : CliApp.Errors;
        });
        return command;
    }
}
