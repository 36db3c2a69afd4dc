using System.CommandLine;
using System.Globalization;
using PlaybookRunner.Runtime;
using PlaybookRunner.Core;
using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Cli.Commands;

/// <summary><c>playbook suppress RULE KEY</c> and <c>playbook unsuppress RULE KEY</c>: edit suppressions.yaml, for review in git.</summary>
internal static class SuppressCommand
{
    private const string EveryKey = "*";

    public static Command Create(TextWriter stdout, TextWriter stderr, PlaybookEngine engine)
    {
        var (rule, key, paths) = Arguments();
        var until = new Option<string?>("--until") { Description = "Last day it applies (YYYY-MM-DD, inclusive, in the playbook's time zone); none: no end" };
        var reason = new Option<string>("--reason") { Description = "Why the finding is not acted on: plan shows it beside the finding", Required = true };
        var command = new Command("suppress", "Add a suppression to suppressions.yaml (commit it for review): the rule's findings for that customer are shown in plan but not run.") { rule, key, paths, until, reason };
        command.SetAction(async (result, cancellationToken) =>
        {
            DateOnly? last = null;
            if (result.GetValue(until) is { } text)
            {
                if (!DateOnly.TryParseExact(text, DateFormats.Date, CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
                {
                    CliApp.Report(stderr, DiagnosticDescriptors.BadInvocation, $"--until must be a date (YYYY-MM-DD), not '{SafeText.OneLine(text)}'");
                    return CliApp.Usage;
                }

                last = date;
            }

            var change = await engine.SuppressAsync(CliApp.PathsOrDefault(result.GetValue(paths)), result.GetValue(rule)!, Key(result.GetValue(key)!), last, result.GetValue(reason)!, cancellationToken);
            return Report(change, stdout, stderr);
        });
        return command;
    }

    public static Command CreateUnsuppress(TextWriter stdout, TextWriter stderr, PlaybookEngine engine)
    {
        var (rule, key, paths) = Arguments();
        var command = new Command("unsuppress", "Remove a suppression from suppressions.yaml (commit it for review): the rule's findings for that customer run again.") { rule, key, paths };
        command.SetAction(async (result, cancellationToken) =>
        {
            var change = await engine.UnsuppressAsync(CliApp.PathsOrDefault(result.GetValue(paths)), result.GetValue(rule)!, Key(result.GetValue(key)!), cancellationToken);
            return Report(change, stdout, stderr);
        });
        return command;
    }

    private static (Argument<string> Rule, Argument<string> Key, Argument<string[]> Paths) Arguments() => (
        new Argument<string>("RULE") { Description = "playbook/rule, playbook/* for every rule of the playbook, or a rule id only one playbook has" },
        new Argument<string>("KEY") { Description = "The customer's key; * for every customer" },
        CliApp.PathsArgument());

    private static string? Key(string key) => key == EveryKey ? null : key;

    private static int Report(SuppressionChange change, TextWriter stdout, TextWriter stderr)
    {
        var cwd = Directory.GetCurrentDirectory();
        stderr.Write(DiagnosticFormatter.WriteText(change.Diagnostics, cwd));
        if (!change.Success || change.File is not { } file)
        {
            return CliApp.Errors;
        }

        var shown = DiagnosticFormatter.DisplayPath(file, cwd);
        foreach (var removed in change.Removed)
        {
            stdout.WriteLine($"removed  {removed.Rule}  {Describe(removed.Key)}{Until(removed.Until)}: {SafeText.OneLine(removed.Justification)}");
        }

        if (change.Added is { } added)
        {
            stdout.WriteLine($"added    {added.Rule}  {Describe(added.Key)}{Until(added.Until)}: {SafeText.OneLine(added.Justification)}");
        }

        stdout.WriteLine($"{shown} changed; commit it so that the change is reviewed (plan shows its effect)");
        return CliApp.Success;
    }

    private static string Describe(string? key) => key is null ? "every customer" : SafeText.OneLine(key);

    private static string Until(DateOnly? until) => until is { } day ? $" until {day.ToString(DateFormats.Date, CultureInfo.InvariantCulture)}" : "";
}
