using System.CommandLine;
using System.Globalization;
using PlaybookRunner.Runtime;
using PlaybookRunner.Core;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Cli.Commands;

/// <summary><c>playbook requeue</c>: dead letters back to pending, with their original idempotency keys.</summary>
internal static class RequeueCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr, PlaybookEngine engine)
    {
        var paths = CliApp.PathsArgument();
        var rule = new Option<string?>("--rule") { Description = "Only this rule's dead letters: RULE or PLAYBOOK/RULE" };
        var key = new Option<string?>("--key") { Description = "Only this customer's dead letters" };
        var all = new Option<bool>("--all") { Description = "Every dead letter" };
        var command = new Command("requeue", "Put dead letters back to pending with their original idempotency keys; the next run or the daemon delivers them.") { paths, rule, key, all };
        command.SetAction(async (result, cancellationToken) =>
        {
            if (result.GetValue(rule) is null && result.GetValue(key) is null && !result.GetValue(all))
            {
                CliApp.Report(stderr, DiagnosticDescriptors.BadInvocation, "name what to requeue: --rule, --key (both narrow it) or --all");
                return CliApp.Usage;
            }

            var (requeued, superseded, diagnostics) = await engine.RequeueAsync(CliApp.PathsOrDefault(result.GetValue(paths)), result.GetValue(rule), result.GetValue(key), cancellationToken);
            stderr.Write(DiagnosticFormatter.WriteText(diagnostics, Directory.GetCurrentDirectory()));
            if (diagnostics.Any(d => d.IsError))
            {
                return CliApp.Errors;
            }

            foreach (var e in requeued)
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"requeued  {e.Playbook}/{e.Rule}  {SafeText.OneLine(e.Key)}  #{e.ActionIndex} {e.Type}  {e.IdempotencyKey}"));
            }

            foreach (var (e, since) in superseded)
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"skipped   {e.Playbook}/{e.Rule}  {SafeText.OneLine(e.Key)}  #{e.ActionIndex} {e.Type}  {e.IdempotencyKey}: the rule fired for {SafeText.OneLine(e.Key)} again at {DateFormats.FormatInstant(since)}"));
            }

            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Requeued {requeued.Count} dead letter(s), skipped {superseded.Count}; `playbook run` or the daemon delivers them"));
            return CliApp.Success;
        });
        return command;
    }
}
