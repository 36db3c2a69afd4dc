using System.Runtime.CompilerServices;
using System.Text;
using PlaybookRunner.Core.Model;
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

    private readonly Part[] _parts;

    private TemplateParts(Part[] parts) => _parts = parts;

    /// <summary>The parts in order.</summary>
    public IReadOnlyList<Part> Parts => _parts;

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

        return new TemplateParts([.. parts]);
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
    /// The value of a part as the full render would find it, by name: the rule's shared names first, then the finding's
    /// values (a sink's own helpers, above both, are refused by the sink's plan before any value is read).
    /// False when the full render must do it.
    /// </summary>
    private static bool TryValue(Part part, TemplateScope scope, out object? value)
    {
        value = null;
        var name = part.Name!;
        if (!scope.Shared.TryGetValue(name, out var found) && !scope.TryFindingValue(name, out found))
        {
            return false;
        }

        return Finish(part, found, scope, HelperShared(part, scope.Shared), out value);
    }

    /// <summary>Whether the helper a part applies is one of <paramref name="shared"/>'s names (true for a part without one).</summary>
    private static bool HelperShared(Part part, ScriptObject shared) => part.Helper is not { } helper || shared.ContainsKey(helper);

    /// <summary>
    /// The value a part writes, from the value its name has: its member, or its helper applied. False when the full
    /// render must do it: a member or helper this path does not read, or a value it does not write the same way.
    /// </summary>
    private static bool Finish(Part part, object? found, TemplateScope scope, bool helperShared, out object? value)
    {
        value = null;
        if (part.Member is { } member)
        {
            if (found is not ScriptObject target || !target.TryGetValue(member, out found))
            {
                return false;
            }
        }
        else if (part.Helper is { } helper)
        {
            if (scope.Helpers is not { } helpers || !helperShared)
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

    /// <summary>
    /// Renders the template for <paramref name="sink"/> without the interpreter, each value escaped as a full render
    /// escapes it there (<see cref="TemplateRenderer"/>'s own functions). Null when the full render must do it: a
    /// value this path does not write, escaping that refuses a value, the output limit reached, or a template whose
    /// text alone decides that a full render fails (a webhook URL whose host is not fixed before its first value,
    /// a <c>\</c> right before a value in a JSON string).
    /// </summary>
    public string? TryRender(TemplateScope scope, TemplateSink sink)
    {
        if (Plan(sink) is not { } plan)
        {
            return null;
        }

        if (plan.Constant is { } constant)
        {
            return constant;
        }

        var sources = scope.Values is { } values ? Resolve(values, scope.Shared) : null;
        var builder = _builder ??= new StringBuilder();
        builder.Clear();
        try
        {
            var parts = _parts;
            for (var i = 0; i < parts.Length; i++)
            {
                var part = parts[i];
                if (part.Text is { } text)
                {
                    if (builder.Append(text).Length >= TemplateRenderer.OutputLimit)
                    {
                        return null;
                    }

                    continue;
                }

                object? value;
                if (sources is not null)
                {
                    var source = sources[i];
                    if (source.Kind == SourceKind.Unknown || !Finish(part, source.Kind == SourceKind.Shared ? source.Constant : scope.Values!.At(source.Slot), scope, source.HelperShared, out value))
                    {
                        return null;
                    }
                }
                else if (!TryValue(part, scope, out value))
                {
                    return null;
                }

                if (!TemplateRenderer.TryWriteValue(builder, value!, sink, plan.InString[i], plan.AfterQuery[i]) || builder.Length >= TemplateRenderer.OutputLimit)
                {
                    // At the limit the interpreter's own accounting decides (a value of exactly the limit already fails there).
                    return null;
                }
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A helper failed on a value (a date the zone cannot hold): the interpreter reports it as it always has.
            return null;
        }

        return TemplateRenderer.WellFormed(builder.ToString());
    }

    /// <summary>The output of a template rendered without the interpreter (one per thread; renders never nest).</summary>
    [ThreadStatic]
    private static StringBuilder? _builder;

    /// <summary>
    /// What the template's own text decides about its values in one sink; null when a full render must do it.
    /// <see cref="Constant"/> is the output of a template with no values (a fixed URL, a fixed subject), the same every time.
    /// </summary>
    private sealed record SinkPlan(bool[] InString, bool[] AfterQuery, string? Constant);

    private static readonly int Sinks = Enum.GetValues<TemplateSink>().Length;
    private readonly SinkPlan?[] _plans = new SinkPlan?[Sinks];
    private readonly bool[] _planned = new bool[Sinks];

    private SinkPlan? Plan(TemplateSink sink)
    {
        var at = (int)sink;
        if (Volatile.Read(ref _planned[at]))
        {
            return _plans[at];
        }

        var plan = MakePlan(sink, TemplateRenderer.OverridesOf(sink));
        _plans[at] = plan;
        Volatile.Write(ref _planned[at], true);
        return plan;
    }

    /// <summary>
    /// Reads the template's text as the sink's context reads what is written before each value. A value never
    /// changes that reading: escaped, it opens or closes no JSON string, and a URL's value is percent-encoded (no
    /// '?' or '#'); so the text alone decides it. A URL whose text fixes no host before the first value, a JSON
    /// string whose text puts a '\' right before a value, or a name the sink's own helpers shadow: the full render.
    /// </summary>
    private SinkPlan? MakePlan(TemplateSink sink, ScriptObject? overrides)
    {
        var inString = new bool[Parts.Count];
        var afterQuery = new bool[Parts.Count];
        var written = new StringBuilder();
        bool open = false, escaped = false, first = true;
        for (var i = 0; i < Parts.Count; i++)
        {
            if (Parts[i].Text is { } text)
            {
                foreach (var c in text)
                {
                    (open, escaped) = TemplateRenderer.JsonScan(open, escaped, c);
                }

                written.Append(text);
                continue;
            }

            if (overrides?.ContainsKey(Parts[i].Name!) == true || (sink == TemplateSink.Json && open && escaped)
                || (sink == TemplateSink.Url && first && !Model.ActionRules.HasFixedAuthority(written.ToString())))
            {
                return null;
            }

            first = false;
            inString[i] = open;
            afterQuery[i] = written.ToString().IndexOfAny(['?', '#']) >= 0;
        }

        var constant = Parts.All(p => p.Text is not null) && written.Length < TemplateRenderer.OutputLimit ? TemplateRenderer.WellFormed(written.ToString()) : null;
        return new SinkPlan(inString, afterQuery, constant);
    }

    /// <summary>
    /// True when this template, written from its parts into a JSON body, is always one JSON value whatever the values:
    /// each value outside a string stands as a token of its own (after '[', '{', ':', ',' or a space, before ']', '}',
    /// ',' or a space, or at either end), where this path writes one JSON value (a string, a number, true or false),
    /// and inside a string it writes escaped text; so the text with each such value as 0, and none inside strings, says.
    /// </summary>
    public bool WritesJson => _writesJson ??= ReadWritesJson();

    private bool? _writesJson;

    private bool ReadWritesJson()
    {
        if (Plan(TemplateSink.Json) is not { } plan)
        {
            return false;
        }

        var skeleton = new StringBuilder();
        for (var i = 0; i < Parts.Count; i++)
        {
            if (Parts[i].Text is { } text)
            {
                skeleton.Append(text);
                continue;
            }

            if (plan.InString[i])
            {
                continue;
            }

            var before = i > 0 && Parts[i - 1].Text is { Length: > 0 } previous ? previous[^1] : i == 0 ? ' ' : '\0';
            var after = i + 1 < Parts.Count && Parts[i + 1].Text is { Length: > 0 } next ? next[0] : i + 1 == Parts.Count ? ' ' : '\0';
            if (!"[{:, \t\r\n".Contains(before, StringComparison.Ordinal) || !"]}, \t\r\n".Contains(after, StringComparison.Ordinal))
            {
                return false;
            }

            skeleton.Append('0');
        }

        return ActionKind.IsJson(skeleton.ToString());
    }

    private enum SourceKind : byte
    {
        Unknown,
        Shared,
        Finding,
    }

    /// <summary>Where a value part's name is found: a name of the shared object (its value, read-only), or a slot of the finding's values.</summary>
    private readonly record struct Source(SourceKind Kind, object? Constant, int Slot, bool HelperShared);

    /// <summary>The sources of each part for one layout of values and one shared object: a rule's templates see one of each.</summary>
    private sealed record Resolution(object Layout, ScriptObject Shared, Source[] Sources);

    private Resolution? _resolution;

    private Source[] Resolve(IFindingValues values, ScriptObject shared)
    {
        var known = Volatile.Read(ref _resolution);
        if (known is not null && ReferenceEquals(known.Layout, values.Layout) && ReferenceEquals(known.Shared, shared))
        {
            return known.Sources;
        }

        // The shared object is read-only and its names shadow the finding's: a name found there is that value for every finding.
        var sources = Parts.Select(p => p.Name is not { } name ? default
            : shared.TryGetValue(name, out var constant) ? new Source(SourceKind.Shared, constant, -1, HelperShared(p, shared))
            : values.Slot(name) is var slot and >= 0 ? new Source(SourceKind.Finding, null, slot, HelperShared(p, shared))
            : default).ToArray();
        Volatile.Write(ref _resolution, new Resolution(values.Layout, shared, sources));
        return sources;
    }
}
