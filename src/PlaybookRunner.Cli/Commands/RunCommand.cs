using System.CommandLine;
using System.Globalization;
using PlaybookRunner.Runtime;
using PlaybookRunner.Core;
using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Cli.Commands;

/// <summary><c>playbook run</c>: what plan shows, executed once, each action recorded in the state store.</summary>
internal static class RunCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr, PlaybookEngine engine)
    {
        var paths = CliApp.PathsArgument();
        var asOf = PlanCommand.AsOfOption();
        var maxActions = PlanCommand.MaxActionsOption();
        var saved = new Option<string?>("--plan") { Description = "Execute exactly this saved plan (written by plan --format json --out FILE) instead of planning now" };
        var rules = new Option<string[]>("--rule") { Description = "Only this rule (playbook/rule, or the rule id); repeatable", Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };
        var keys = new Option<string[]>("--key") { Description = "Only this customer key; repeatable", Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };
        var create = new Option<bool>("--create-store") { Description = "Create the state store if it does not exist (first run); without it a missing store is an error, never a fresh start" };
        var command = new Command("run", "Execute the actions plan shows, once; finish actions a crashed run left pending first.") { paths, asOf, maxActions, saved, rules, keys, create };
        command.SetAction(async (result, cancellationToken) =>
        {
            if (result.GetValue(saved) is not null && result.GetValue(asOf) is not null)
            {
                CliApp.Report(stderr, DiagnosticDescriptors.BadInvocation, "--as-of cannot be given with --plan: a saved plan runs as of the instant it was made for");
                return CliApp.Usage;
            }

            if (!PlanCommand.TryAsOf(result.GetValue(asOf), engine.Options.Time, stderr, out var instant))
            {
                return CliApp.Usage;
            }

            var cwd = Directory.GetCurrentDirectory();
            var scope = new Core.Planning.RunScope(result.GetValue(rules) ?? [], result.GetValue(keys) ?? []);
            var workspacePaths = CliApp.PathsOrDefault(result.GetValue(paths));
            var run = result.GetValue(saved) is { } planFile
                ? await engine.ApplyAsync(workspacePaths, planFile, cancellationToken, result.GetValue(maxActions), scope, result.GetValue(create))
                : await engine.RunAsync(workspacePaths, instant, cancellationToken, result.GetValue(maxActions), scope, result.GetValue(create));
            foreach (var action in run.Actions)
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{(action.Succeeded ? "ok  " : action.Abandoned ? "left" : action.RetryAt is not null ? "WAIT" : "FAIL")} {action.Playbook}/{action.Rule} {SafeText.OneLine(action.Key)} {action.Type}{(action.Recovered ? " (recovered)" : "")}: {SafeText.OneLine(action.Message)}"));
            }

            stderr.Write(DiagnosticFormatter.WriteText(run.Diagnostics, cwd));
            if (run.Plan is { } plan)
            {
                foreach (var line in Core.Planning.PlanWriter.ErrorLines(plan.Errors, cwd, "playbook: "))
                {
                    stderr.WriteLine(line);
                }

                var retrying = run.Actions.Count(a => a.RetryAt is not null);
                var failed = run.Actions.Count(a => !a.Succeeded && !a.Abandoned) - retrying;
                var left = run.Actions.Count(a => a.Abandoned);
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Run as of {DateFormats.FormatInstant(plan.AsOf)}: {run.Actions.Count - failed - left - retrying} actions succeeded, {failed} failed, {(retrying > 0 ? $"{retrying} to retry, " : "")}{plan.Summary.Suppressed} suppressed, {plan.Summary.HeldBack} held back, {plan.Errors.Count} errors{(left > 0 ? $", {left} left to the runner that claimed them (not this run's to deliver)" : "")}"));
                if (run.Waiting is { Count: > 0, Next: { } next })
                {
                    stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{run.Waiting.Count} action(s) wait to be retried after a transient failure; the next from {DateFormats.FormatInstant(next)} (run again then, or let the daemon deliver them)"));
                }
            }

            return run.Busy ? CliApp.Busy : run.Success ? CliApp.Success : CliApp.Errors;
        });
        return command;
    }
}
