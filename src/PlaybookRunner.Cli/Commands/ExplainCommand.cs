using System.CommandLine;
using System.Globalization;
using System.Text;
using PlaybookRunner.Core;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Cli.Commands;

/// <summary><c>playbook explain RULE KEY</c>: why a rule does or does not fire for one customer.</summary>
internal static class ExplainCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr, TimeProvider time)
    {
        var rule = new Argument<string>("RULE") { Description = "The rule: playbook/rule, or the rule id when only one playbook has it" };
        var key = new Argument<string>("KEY") { Description = "The customer's key in the playbook's source" };
        var paths = CliApp.PathsArgument();
        var asOf = PlanCommand.AsOfOption();
        var command = new Command("explain", "Why a rule does or does not fire for one customer: the value of each part of its condition.") { rule, key, paths, asOf };
        command.SetAction(async (result, cancellationToken) =>
        {
            if (!PlanCommand.TryAsOf(result.GetValue(asOf), time, stderr, out var instant))
            {
                return CliApp.Usage;
            }

            var explained = await PlaybookEngine.ExplainAsync(CliApp.PathsOrDefault(result.GetValue(paths)), result.GetValue(rule)!, result.GetValue(key)!, instant, cancellationToken);
            stderr.Write(DiagnosticFormatter.WriteText(explained.Diagnostics, Directory.GetCurrentDirectory()));
            if (explained.Explanation is not { } explanation)
            {
                return CliApp.Errors;
            }

            stdout.Write(Write(explanation));
            return explanation.Failed ? CliApp.Errors : CliApp.Success;
        });
        return command;
    }

    /// <summary>The explanation for people: each part of the condition indented by nesting, with its value.</summary>
    public static string Write(Explanation e)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{e.Playbook}/{e.Rule} for {e.Key} as of {Planner.FormatInstant(e.AsOf)}\n\n");
        text.Append("when: ").Append(e.Condition.ReplaceLineEndings(" ").Trim()).Append('\n');
        var width = e.Parts.Count == 0 ? 0 : e.Parts.Max(p => (p.Depth * 2) + p.Expression.Length);
        foreach (var part in e.Parts)
        {
            var left = new string(' ', part.Depth * 2) + part.Expression;
            text.Append("  ").Append(left.PadRight(width)).Append("  = ").Append(part.Evaluated ? part.Value : "(not evaluated)").Append('\n');
        }

        if (e.Segments.Count > 0)
        {
            text.Append("segments:\n");
            foreach (var segment in e.Segments)
            {
                text.Append(CultureInfo.InvariantCulture, $"  {segment.Name} = {segment.Value ?? "(not evaluated)"}    ({segment.Expression.ReplaceLineEndings(" ").Trim()})\n");
            }
        }

        if (e.Lets.Count > 0)
        {
            text.Append("let:\n");
            foreach (var let in e.Lets)
            {
                text.Append(CultureInfo.InvariantCulture, $"  {let.Name} = {let.Value ?? "(not evaluated)"}    ({let.Expression.ReplaceLineEndings(" ").Trim()})\n");
            }
        }

        text.Append("cooldown: ").Append(e.Cooldown).Append('\n');
        text.Append("suppression: ").Append(e.Suppression).Append('\n');
        text.Append("result: ").Append(e.Outcome).Append('\n');
        return text.ToString();
    }
}
