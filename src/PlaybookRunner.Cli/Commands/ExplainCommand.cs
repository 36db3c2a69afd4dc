using System.CommandLine;
using System.Globalization;
using System.Text;
using PlaybookRunner.Runtime;
using PlaybookRunner.Core;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Cli.Commands;

/// <summary><c>playbook explain RULE KEY</c>: why a rule does or does not fire for one customer.</summary>
internal static class ExplainCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr, PlaybookEngine engine)
    {
        var rule = new Argument<string>("RULE") { Description = "The rule: playbook/rule, or the rule id when only one playbook has it" };
        var key = new Argument<string>("KEY") { Description = "The customer's key in the playbook's source" };
        var paths = CliApp.PathsArgument();
        var asOf = PlanCommand.AsOfOption();
        var command = new Command("explain", "Why a rule does or does not fire for one customer: the value of each part of its condition.") { rule, key, paths, asOf };
        command.SetAction(async (result, cancellationToken) =>
        {
            if (!PlanCommand.TryAsOf(result.GetValue(asOf), engine.Options.Time, stderr, out var instant))
            {
                return CliApp.Usage;
            }

            var explained = await engine.ExplainAsync(CliApp.PathsOrDefault(result.GetValue(paths)), result.GetValue(rule)!, result.GetValue(key)!, instant, cancellationToken);
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
        text.Append(CultureInfo.InvariantCulture, $"{e.Playbook}/{e.Rule} for {L(e.Key)} as of {DateFormats.FormatInstant(e.AsOf)}\n\n");
        text.Append("when: ").Append(L(e.Condition)).Append('\n');
        var width = e.Parts.Count == 0 ? 0 : e.Parts.Max(p => (p.Depth * 2) + L(p.Expression).Length);
        foreach (var part in e.Parts)
        {
            var left = new string(' ', part.Depth * 2) + L(part.Expression);
            text.Append("  ").Append(left.PadRight(width)).Append("  = ").Append(part.Evaluated ? L(part.Value) : "(not evaluated)").Append('\n');
        }

        Named(text, "values", e.Values);
        Named(text, "segments", e.Segments);
        Named(text, "let", e.Lets);
        text.Append("cooldown: ").Append(L(e.Cooldown)).Append('\n');
        if (e.Lifecycle is { } lifecycle)
        {
            text.Append("hold: ").Append(L(lifecycle)).Append('\n');
        }

        text.Append("suppression: ").Append(L(e.Suppression)).Append('\n');
        text.Append("result: ").Append(L(e.Outcome)).Append('\n');
        return text.ToString();
    }

    /// <summary>A block of named values (computed values, segments, lets): each with its value and expression.</summary>
    private static void Named(StringBuilder text, string title, IReadOnlyList<ExplainedValue> items)
    {
        if (items.Count == 0)
        {
            return;
        }

        text.Append(title).Append(":\n");
        foreach (var item in items)
        {
            text.Append(CultureInfo.InvariantCulture, $"  {item.Name} = {L(item.Value ?? "(not evaluated)")}    ({L(item.Expression)})\n");
        }
    }

    /// <summary>Workspace or data text on one line of the explanation (<see cref="SafeText"/>).</summary>
    private static string L(string? text) => SafeText.OneLine((text ?? "").ReplaceLineEndings(" ").Trim());
}
