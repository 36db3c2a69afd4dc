using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Model;
using Scriban;
using Scriban.Parsing;
using Scriban.Runtime;
using Scriban.Syntax;

namespace PlaybookRunner.Core.Compilation;

/// <summary>A parsed template with the text it came from.</summary>
internal sealed record CompiledTemplate(Template Template, SpannedText Source);

/// <summary>A parsed action field: a template, a boolean, or nested templates (headers).</summary>
internal sealed record CompiledActionField(string Name, CompiledTemplate? Template, bool? Flag, IReadOnlyList<CompiledActionField>? Children);

/// <summary>The parsed templates of one action.</summary>
internal sealed record CompiledAction(ActionDefinition Definition, IReadOnlyList<CompiledActionField> Fields)
{
    public bool IsHtml { get; } = Fields.Any(f => f.Name == "html" && f.Flag == true);

    /// <summary>What the engine knows about the action's type.</summary>
    public ActionKind Kind { get; } = ActionKind.Of(Definition.Type);
}

/// <summary>The parsed message and action templates of one rule.</summary>
internal sealed record RuleTemplates(CompiledTemplate? Message, IReadOnlyList<CompiledAction> Actions)
{
    /// <summary>The templates of its <c>on_resolve:</c>, when it has one.</summary>
    public RuleTemplates? Resolve { get; init; }

    /// <summary>The digests its findings join, each with its <c>group_by</c> template parsed for this playbook.</summary>
    public IReadOnlyList<(string Name, CompiledTemplate GroupBy)> Digests { get; init; } = [];
}

/// <summary>
/// Parses every template of a playbook at validate time and checks every name it uses, so that an
/// unknown variable or function is reported with its line and column, not at 3 a.m. in the daemon.
/// </summary>
internal static class TemplateCompiler
{
    /// <summary>Helpers PlaybookRunner adds to Scriban's built-ins.</summary>
    public static readonly IReadOnlyList<string> Helpers = ["days_since", "months_since", "money", "json_escape", "html_escape", "raw", "last_fired_of", "last_delivered_of", "add_business_days", "business_days_since"];

    /// <summary>A finding's history, per customer: when its rule last fired for them and when an action of it was last delivered.</summary>
    public static readonly IReadOnlyList<string> HistoryNames = ["last_fired", "last_delivered"];

    /// <summary>Scriban built-in objects that templates may use (include is not: templates cannot read files).</summary>
    public static readonly IReadOnlyList<string> BuiltIns = ["array", "date", "html", "math", "object", "regex", "string", "timespan", "empty", "blank"];

    /// <summary>Members of <c>rule</c> and <c>playbook</c>.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> ObjectMembers = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["rule"] = ["id", "title", "severity"],
        ["playbook"] = ["id", "title"],
    };

    private static readonly ScriptObject BuiltinObject = TemplateContext.GetDefaultBuiltinObject();


    /// <summary>Built-ins that would evaluate data as code or read the wall clock.</summary>
    private static readonly Dictionary<string, string> Forbidden = new(StringComparer.Ordinal)
    {
        ["object.eval"] = ": templates do not evaluate text as code",
        ["object.eval_template"] = ": templates do not evaluate text as code",
        ["date.now"] = ": use now, the evaluation instant (plan --as-of)",
        ["date.utc_now"] = ": use now, the evaluation instant (plan --as-of)",
    };

    /// <summary>What a digest's action templates see: the group's key and its findings.</summary>
    public static readonly IReadOnlyList<string> DigestNames = ["group", "findings"];

    /// <summary>The members of each finding a digest's templates list.</summary>
    public static readonly IReadOnlyList<string> DigestFindingMembers = ["playbook", "rule", "title", "key", "severity", "message", "fields", "values"];

    /// <summary>Parses runner.yaml's digests' action templates: they see <c>group</c>, <c>findings</c>, <c>now</c> and the helpers.</summary>
    public static IReadOnlyDictionary<string, CompiledAction> CompileDigests(WorkspaceDefinition workspace, DiagnosticBag diagnostics)
    {
        var known = new HashSet<string>(DigestNames, StringComparer.Ordinal) { "now" };
        known.UnionWith(Helpers);
        known.UnionWith(BuiltIns);
        var scalars = new HashSet<string>(StringComparer.Ordinal) { "now", "group" };
        return workspace.Digests.Values.ToDictionary(
            d => d.Name,
            d => new CompiledAction(d.Action, [.. d.Action.Fields.Select(f => CompileField(f, known, scalars, diagnostics))]),
            StringComparer.Ordinal);
    }

    public static RuleTemplates[] Compile(PlaybookDefinition playbook, DiagnosticBag diagnostics, IReadOnlyDictionary<string, DigestDefinition>? digests = null)
    {
        var known = new HashSet<string>(StringComparer.Ordinal) { "rule", "playbook", "now" };
        known.UnionWith(HistoryNames);
        known.UnionWith(playbook.Source.Fields.Select(f => f.Name));
        known.UnionWith(playbook.Source.Related.Select(r => r.Name));
        known.UnionWith(playbook.Lets.Select(l => l.Name));
        known.UnionWith(playbook.Values.Select(v => v.Name));
        known.UnionWith(playbook.Segments.Select(s => s.Name));
        known.UnionWith(Helpers);
        known.UnionWith(BuiltIns);
        var scalars = new HashSet<string>(StringComparer.Ordinal) { "now" };
        scalars.UnionWith(HistoryNames);
        scalars.UnionWith(playbook.Source.Fields.Select(f => f.Name));
        scalars.UnionWith(playbook.Lets.Select(l => l.Name));
        scalars.UnionWith(playbook.Values.Select(v => v.Name));
        scalars.UnionWith(playbook.Segments.Select(s => s.Name));

        // A digest's group_by is checked once per playbook that joins it: it renders with that playbook's names.
        var groupBy = new Dictionary<string, CompiledTemplate>(StringComparer.Ordinal);
        return
        [
            .. playbook.Rules.Select(rule => new RuleTemplates(
                rule.Message is null ? null : Parse(rule.Message, known, scalars, diagnostics),
                Actions(rule.Actions))
            {
                Resolve = rule.OnResolve is not { } resolve ? null
                    : new RuleTemplates(resolve.Message is null ? null : Parse(resolve.Message, known, scalars, diagnostics), Actions(resolve.Actions)),
                Digests = [.. rule.Digests.Where(d => digests?.ContainsKey(d.Digest) == true).Select(d => (d.Digest, GroupBy(d.Digest)))],
            }),
        ];

        CompiledTemplate GroupBy(string name) => groupBy.TryGetValue(name, out var parsed) ? parsed : groupBy[name] = Parse(digests![name].GroupBy, known, scalars, diagnostics);

        List<CompiledAction> Actions(IEnumerable<ActionDefinition> actions) =>
            [.. actions.Select(a => new CompiledAction(a, [.. a.Fields.Select(f => CompileField(f, known, scalars, diagnostics))]))];
    }

    private static CompiledActionField CompileField(ActionField field, HashSet<string> known, HashSet<string> scalars, DiagnosticBag diagnostics) => new(
        field.Name,
        field.Template is null ? null : Parse(field.Template, known, scalars, diagnostics),
        field.Flag,
        field.Children?.Select(c => CompileField(c, known, scalars, diagnostics)).ToList());

    private static CompiledTemplate Parse(SpannedText text, HashSet<string> known, HashSet<string> scalars, DiagnosticBag diagnostics)
    {
        var template = Template.Parse(text.Value, text.Location.Path);
        if (template.HasErrors)
        {
            foreach (var message in template.Messages.Where(m => m.Type == ParserMessageType.Error))
            {
                diagnostics.Add(DiagnosticDescriptors.TemplateSyntax, Map(text, message.Span), message.Message.TrimEnd('.'));
            }

            return new CompiledTemplate(template, text);
        }

        var declared = new HashSet<string>(StringComparer.Ordinal);
        CollectDeclared(template.Page!, declared);
        CheckNames(template.Page!, text, known, scalars, declared, diagnostics);
        return new CompiledTemplate(template, text);
    }

    private static SourceLocation Map(SpannedText text, SourceSpan span)
    {
        var length = span.Start.Line == span.End.Line ? Math.Max(1, span.End.Column - span.Start.Column + 1) : 1;
        return text.Map(span.Start.Line, span.Start.Column, length);
    }

    private static void CollectDeclared(ScriptNode node, HashSet<string> declared)
    {
        switch (node)
        {
            case ScriptForStatement { Variable: ScriptVariable loop }:
                declared.Add(loop.Name);
                break;
            case ScriptAssignExpression { Target: ScriptVariable target }:
                declared.Add(target.Name);
                break;
            case ScriptCaptureStatement { Target: ScriptVariable capture }:
                declared.Add(capture.Name);
                break;
        }

        foreach (var child in node.Children)
        {
            if (child is not null)
            {
                CollectDeclared(child, declared);
            }
        }
    }

    private static void CheckNames(ScriptNode node, SpannedText text, HashSet<string> known, HashSet<string> scalars, HashSet<string> declared, DiagnosticBag diagnostics)
    {
        switch (node)
        {
            case ScriptFunction function:
                // A template renders text; a function of its own could call itself many times per call
                // (depth is limited, fan-out is not), so templates define none.
                diagnostics.Add(DiagnosticDescriptors.TemplateForbidden, Map(text, function.Span), function.NameOrDoToken?.ToString() ?? "func",
                    ": templates cannot define functions (func, do); use the built-in functions and helpers");
                return;
            case ScriptMemberExpression { Target: ScriptVariableGlobal target, Member: ScriptVariable member }
                when Forbidden.TryGetValue($"{target.Name}.{member.Name}", out var why):
                diagnostics.Add(DiagnosticDescriptors.TemplateForbidden, Map(text, member.Span), $"{target.Name}.{member.Name}", why);
                return;
            case ScriptMemberExpression { Target: ScriptVariableGlobal target, Member: ScriptVariable member }:
                CheckNames(target, text, known, scalars, declared, diagnostics);
                if (ObjectMembers.TryGetValue(target.Name, out var members) && !members.Contains(member.Name, StringComparer.Ordinal)
                    || BuiltIns.Contains(target.Name) && BuiltinObject.TryGetValue(target.Name, out var builtin) && builtin is ScriptObject o && !o.ContainsKey(member.Name))
                {
                    var candidates = members ?? (BuiltinObject.TryGetValue(target.Name, out var b) && b is ScriptObject bo ? bo.Keys : []);
                    diagnostics.Add(DiagnosticDescriptors.TemplateUnknownMember, Map(text, member.Span), target.Name, member.Name,
                        Yaml.YamlSchemaValidator.Suggest(member.Name, candidates.Where(c => !Forbidden.ContainsKey($"{target.Name}.{c}"))));
                }
                else if (scalars.Contains(target.Name) && !declared.Contains(target.Name) && member.Name != "size")
                {
                    // A field's .NET members (Length, GetType, ...) are not reachable from templates; use the string, math
                    // and date functions. Scriban's own .size of strings and lists stays available.
                    diagnostics.Add(DiagnosticDescriptors.TemplateUnknownMember, Map(text, member.Span), target.Name, member.Name, "");
                }

                return;
            case ScriptMemberExpression { Target: { } memberTarget }:
                CheckNames(memberTarget, text, known, scalars, declared, diagnostics);
                return;
            case ScriptVariableGlobal variable when !known.Contains(variable.Name) && !declared.Contains(variable.Name):
                var hint = Yaml.YamlSchemaValidator.Suggest(variable.Name, known);
                diagnostics.Add(DiagnosticDescriptors.TemplateUnknownName, Map(text, variable.Span), variable.Name, hint);
                return;
        }

        foreach (var child in node.Children)
        {
            if (child is not null)
            {
                CheckNames(child, text, known, scalars, declared, diagnostics);
            }
        }
    }
}
