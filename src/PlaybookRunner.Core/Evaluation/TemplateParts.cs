using System.Runtime.CompilerServices;
using Scriban;
using Scriban.Runtime;
using Scriban.Syntax;

namespace PlaybookRunner.Core.Evaluation;

/// <summary>
/// The shape most templates have, read once from the parsed template: text, and values written as they are
/// (<c>{{ name }}</c>, <c>{{ rule.id }}</c>, <c>{{ days_since last_contact }}</c>, <c>{{ months_since x }}</c>,
/// <c>{{ revenue | money }}</c>, <c>{{ revenue | money "€" }}</c>, <c>{{ money revenue }}</c>).
/// Such a template renders without Scriban's interpreter: the text is appended and each value goes through the
/// same context's escaping as a full render would (<see cref="TemplateRenderer"/>). Anything else (a condition, a
/// loop, a pipe, another function, an assignment) leaves the template to Scriban, and so does any value this
/// path does not write the same way (null, a date, a list, an object, a function): the full render then does.
/// </summary>
internal sealed class TemplateParts
{
    private static readonly ConditionalWeakTable<Template, TemplateParts?[]> Cache = [];

    private TemplateParts(IReadOnlyList<Part> parts) => Parts = parts;

    /// <summary>The parts in order.</summary>
    public IReadOnlyList<Part> Parts { get; }

    /// <summary>One part: literal text, or a value (a name, a member of a name, or a helper applied to a name).</summary>
    /// <param name="Text">Literal text (when <paramref name="Name"/> is null).</param>
    /// <param name="Name">The name looked up.</param>
    /// <param name="Member">For <c>name.member</c>: the member.</param>
    /// <param name="Helper">For <c>helper name</c>: days_since, months_since or money.</param>
    /// <param name="Symbol">For money: the currency symbol given, if any.</param>
    public sealed record Part(string? Text, string? Name, string? Member, string? Helper, string? Symbol = null);

    /// <summary>The parts of <paramref name="template"/>; null when it has more than text and plain values.</summary>
    public static TemplateParts? Of(Template template) => Cache.GetValue(template, t => [Read(t)])[0];

    private static TemplateParts? Read(Template template)
    {
        if (template.HasErrors || template.Page is not { FrontMatter: null, Body: { } body })
        {
            return null;
        }

        var parts = new List<Part>();
        foreach (var statement in body.Statements)
        {
            switch (statement)
            {
                case ScriptEscapeStatement:
                    break;
                case ScriptRawStatement { IsEscape: false } raw when raw.Text.ToString() is { } text:
                    parts.Add(new Part(text, null, null, null));
                    break;
                case ScriptExpressionStatement { Expression: var expression } when Value(expression) is { } value:
                    parts.Add(value);
                    break;
                default:
                    return null;
            }
        }

        return new TemplateParts(parts);
    }

    private static Part? Value(ScriptExpression? expression) => expression switch
    {
        ScriptVariableGlobal variable => new Part(null, variable.Name, null, null),
        ScriptMemberExpression { Target: ScriptVariableGlobal target, Member: { } member } => new Part(null, target.Name, member.Name, null),
        ScriptFunctionCall { Target: ScriptVariableGlobal { Name: "days_since" or "months_since" } helper, Arguments: [ScriptVariableGlobal argument], ExplicitCall: false }
            => new Part(null, argument.Name, null, helper.Name),
        ScriptFunctionCall { Target: ScriptVariableGlobal { Name: "money" }, Arguments: [ScriptVariableGlobal argument], ExplicitCall: false }
            => new Part(null, argument.Name, null, "money"),
        ScriptFunctionCall { Target: ScriptVariableGlobal { Name: "money" }, Arguments: [ScriptVariableGlobal argument, ScriptLiteral { Value: string symbol }], ExplicitCall: false }
            => new Part(null, argument.Name, null, "money", symbol),
        ScriptPipeCall { From: ScriptVariableGlobal argument, To: ScriptFunctionCall { Target: ScriptVariableGlobal { Name: "money" }, Arguments: [], ExplicitCall: false } }
            => new Part(null, argument.Name, null, "money"),
        ScriptPipeCall { From: ScriptVariableGlobal argument, To: ScriptFunctionCall { Target: ScriptVariableGlobal { Name: "money" }, Arguments: [ScriptLiteral { Value: string symbol }], ExplicitCall: false } }
            => new Part(null, argument.Name, null, "money", symbol),
        _ => null,
    };

    /// <summary>
    /// The value of a part as the full render would find it: the names above the finding's values first (a name
    /// there that this path does not write, such as a sink's own helper, gives up), then the finding's values.
    /// False when the full render must do it.
    /// </summary>
    public static bool TryValue(Part part, TemplateScope scope, ScriptObject? overrides, out object? value)
    {
        value = null;
        var name = part.Name!;
        if (overrides?.ContainsKey(name) == true)
        {
            return false;
        }

        if (!scope.Shared.TryGetValue(name, out var found) && !scope.TryFindingValue(name, out found))
        {
            return false;
        }

        if (part.Member is { } member)
        {
            if (found is not ScriptObject target || !target.TryGetValue(member, out found))
            {
                return false;
            }
        }
        else if (part.Helper is { } helper)
        {
            if (scope.Helpers is not { } helpers || !scope.Shared.ContainsKey(helper))
            {
                return false;
            }

            found = helper switch
            {
                "days_since" => helpers.DaysSince(found),
                "months_since" => helpers.MonthsSince(found),
                // money reads numbers only here; anything else (text, a missing value) is the interpreter's.
                _ when found is decimal or int or long => TemplateHelpers.Money(found, part.Symbol ?? ""),
                _ => null,
            };
        }

        // Only what every sink writes the same way here and in a full render: text on one line (Scriban indents
        // the lines after the first of a multi-line value as the text before it), truth values and numbers.
        if (found is not (string or bool or int or long or decimal) || (found is string s && s.AsSpan().ContainsAny('\n', '\r')))
        {
            return false;
        }

        value = found;
        return true;
    }
}
