using System.CommandLine;
using System.Globalization;
using PlaybookRunner.Runtime;
using PlaybookRunner.Core;
using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Cli.Commands;

/// <summary><c>playbook history</c>: what was done, from the state store, newest first.</summary>
internal static class HistoryCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr, PlaybookEngine engine)
    {
        var paths = CliApp.PathsArgument();
        var rule = new Option<string?>("--rule") { Description = "Only this rule: RULE or PLAYBOOK/RULE" };
        var key = new Option<string?>("--key") { Description = "Only this customer key" };
        var failed = new Option<bool>("--failed") { Description = "Only dead letters: permanent failures and exhausted retries" };
        var limit = new Option<int>("--limit") { Description = "At most this many rows", DefaultValueFactory = _ => 100 };
        var command = new Command("history", "List recorded actions from the state store.") { paths, rule, key, failed, limit };
        command.SetAction(async (result, cancellationToken) =>
        {
            if (result.GetValue(limit) < 1)
            {
                CliApp.Report(stderr, DiagnosticDescriptors.BadInvocation, $"--limit must be at least 1 (it is {result.GetValue(limit)})");
                return CliApp.Usage;
            }

            var (entries, diagnostics) = await engine.HistoryAsync(CliApp.PathsOrDefault(result.GetValue(paths)), result.GetValue(rule), result.GetValue(key), result.GetValue(failed), result.GetValue(limit), cancellationToken: cancellationToken);
            stderr.Write(DiagnosticFormatter.WriteText(diagnostics, Directory.GetCurrentDirectory()));
            foreach (var e in entries)
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{DateFormats.FormatInstant(e.FiredAt)}  {e.State,-9}  {e.Playbook}/{e.Rule}  {SafeText.OneLine(e.Key)}  #{e.ActionIndex} {e.Type}  attempts {e.Attempts}{(e.RetryAt is { } retry ? $"  retry at {DateFormats.FormatInstant(retry)}" : "")}{(e.LastError is null ? "" : "  " + SafeText.OneLine(e.LastError))}"));
            }

            if (entries.Count == 0)
            {
                stdout.WriteLine("No recorded actions match.");
            }

            return diagnostics.Any(d => d.IsError) ? CliApp.Errors : CliApp.Success;
        });
        return command;
    }
}
