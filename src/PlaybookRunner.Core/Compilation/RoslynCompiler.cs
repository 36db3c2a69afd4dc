using System.Collections.Immutable;
using System.Globalization;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Evaluation;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Compilation;

/// <summary>The generated assembly of a workspace, and for explain the parts of each condition it records.</summary>
internal sealed record CompiledImage(byte[] Image, IReadOnlyDictionary<(string Playbook, string Rule), IReadOnlyList<ExplainNode>> ExplainNodes);

/// <summary>
/// The only part of the engine that uses Roslyn: compiles every let, segment and when of every playbook
/// in ONE compilation, checks the allow-list on the bound trees and emits the assembly. Kept apart so
/// that a compile-cache hit never loads the compiler (see <see cref="CompileCache"/>).
/// </summary>
internal static partial class RoslynCompiler
{
    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(LoadReferences);

    /// <param name="workspace">What to compile.</param>
    /// <param name="sources">The sources whose record classes are generated, in order.</param>
    /// <param name="diagnostics">Where problems are reported.</param>
    /// <param name="explain">
    /// Instrument conditions for <c>explain</c>. Only for a workspace that already compiled without
    /// instrumentation: the allow-list was checked on the original expressions.
    /// </param>
    public static CompiledImage? Compile(WorkspaceDefinition workspace, IReadOnlyList<SourceDefinition> sources, DiagnosticBag diagnostics, bool explain)
    {
        // Code that runs gets the lambda guards. Should a guard not compile where the plain expression
        // does (a lambda whose body type comes from its context), the expression is an error: running it
        // unguarded would take it (and every other rule) out of the time budget and memory limit.
        var guarded = new DiagnosticBag();
        if (Compile(workspace, sources, guarded, explain, guard: true) is { } image && !guarded.HasErrors)
        {
            diagnostics.AddRange(guarded.Items);
            return image;
        }

        var plain = new DiagnosticBag();
        if (Compile(workspace, sources, plain, explain, guard: false) is null || plain.HasErrors)
        {
            diagnostics.AddRange(plain.Items);
            return null;
        }

        foreach (var error in guarded.Items.Where(d => d.IsError))
        {
            diagnostics.Add(DiagnosticDescriptors.NotAnExpression, error.Location,
                "The evaluation budget cannot be checked in this lambda: the type of its result comes only from its context; give its result an explicit type, e.g. (byte)1");
        }

        return null;
    }

    private static CompiledImage? Compile(WorkspaceDefinition workspace, IReadOnlyList<SourceDefinition> sources, DiagnosticBag diagnostics, bool explain, bool guard)
    {
        var playbooks = workspace.Playbooks;
        var builder = new CSharpSourceBuilder(diagnostics, explain, guard);
        var code = builder.Build(sources, playbooks, r => workspace.Sources[r.Source]);
        var before = diagnostics.Items.Count;

        var tree = CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(LanguageVersion.Latest), path: "PlaybookRunner.Generated.cs");
        var compilation = CSharpCompilation.Create(
            PlaybookCompiler.AssemblyName,
            [tree],
            References.Value,
            new CSharpCompilationOptions(
                OutputKind.DynamicallyLinkedLibrary,
                optimizationLevel: OptimizationLevel.Release,
                nullableContextOptions: NullableContextOptions.Enable,
                allowUnsafe: false,
                concurrentBuild: false,
                deterministic: true)
            .WithMetadataImportOptions(MetadataImportOptions.Internal));

        // Emit first: when it succeeds (the common case) the code was bound once, not twice (diagnostics,
        // then emit). When it fails, the errors are taken from the compilation's diagnostics as if it had
        // not been emitted: errors of the lowering (dynamic's missing binder) are no one's expression.
        // The image is only kept when the allow-list passes too.
        using var stream = new MemoryStream();
        var result = compilation.Emit(stream);
        var model = compilation.GetSemanticModel(tree);
        var root = tree.GetRoot();
        if (!ReadsAsPlaced(root, builder, diagnostics))
        {
            return null;
        }

        var forbidden = ReportCompilerDiagnostics(result.Success ? [] : compilation.GetDiagnostics(), builder, sources, diagnostics);
        var errorSpans = result.Success ? [] : compilation.GetDiagnostics().Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error).Select(d => d.Location.SourceSpan).ToList();
        foreach (var site in builder.Sites.Where(s => !forbidden.Contains(s)))
        {
            CheckSite(model, root, site, builder.Files, diagnostics, instrumented: explain || guard, errorSpans, sources);
        }

        if (diagnostics.Items.Skip(before).Any(d => d.IsError))
        {
            return null;
        }

        if (!result.Success)
        {
            foreach (var error in result.Diagnostics.Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error))
            {
                diagnostics.Add(DiagnosticDescriptors.InternalCompile, SourceLocation.None, error.ToString());
            }

            return null;
        }

        return new CompiledImage(stream.ToArray(), builder.ExplainNodes);
    }

    /// <summary>
    /// Defence in depth behind <see cref="ExpressionGate"/>: the generated source must hold exactly the
    /// directives the builder wrote, and inside each expression's place exactly the tokens of that
    /// expression read on its own (compared as the tokens' text: the parser makes some names keywords and joins '>' '>' into '>>'). Anything else means an expression changed the code around it.
    /// </summary>
    private static bool ReadsAsPlaced(SyntaxNode root, CSharpSourceBuilder builder, DiagnosticBag diagnostics)
    {
        var ok = true;
        foreach (var site in builder.Sites)
        {
            var placed = SyntaxFactory.ParseTokens(site.Placed, options: new CSharpParseOptions(LanguageVersion.Latest))
                .TakeWhile(t => !t.IsKind(SyntaxKind.EndOfFileToken)).Select(t => t.Text);
            var read = root.DescendantTokens(site.GeneratedSpan).Where(t => site.GeneratedSpan.Contains(t.Span)).Select(t => t.Text);
            if (!string.Concat(placed).Equals(string.Concat(read), StringComparison.Ordinal))
            {
                diagnostics.Add(DiagnosticDescriptors.NotAnExpression, site.Text.Location, $"The {site.Describe()} does not read as one expression in its place: remove directives, open comments and unusual line breaks");
                ok = false;
            }
        }

        var directives = root.DescendantTrivia(descendIntoTrivia: true).Count(t => t.IsDirective || t.IsKind(SyntaxKind.DisabledTextTrivia));
        if (ok && directives != builder.Directives)
        {
            diagnostics.Add(DiagnosticDescriptors.InternalCompile, SourceLocation.None, $"the generated source holds {directives} directives where {builder.Directives} were written");
            ok = false;
        }

        return ok;
    }

    /// <summary>Reports compiler errors mapped into the YAML; returns the sites already rejected (forbidden, or with a compiler error).</summary>
    private static HashSet<ExpressionSite> ReportCompilerDiagnostics(ImmutableArray<Microsoft.CodeAnalysis.Diagnostic> compilerDiagnostics, CSharpSourceBuilder builder, IReadOnlyList<SourceDefinition> sources, DiagnosticBag diagnostics)
    {
        var sites = builder.Sites;
        var forbidden = new HashSet<ExpressionSite>();
        foreach (var error in compilerDiagnostics.Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error))
        {
            var span = error.Location.SourceSpan;
            var site = sites.FirstOrDefault(s => s.GeneratedSpan.IntersectsWith(span) || s.GeneratedSpan.Contains(span.Start));
            if (site is null)
            {
                diagnostics.Add(DiagnosticDescriptors.InternalCompile, SourceLocation.None, error.ToString());
                continue;
            }

            var message = error.GetMessage(CultureInfo.InvariantCulture);
            if (error.Id == "CS1069")
            {
                // A type forwarded to an assembly the compilation does not reference: outside the allow-list by construction.
                var parts = message.Split('\'');
                diagnostics.Add(DiagnosticDescriptors.Forbidden, Map(error.Location, site, builder.Files), $"{parts[3]}.{parts[1]}", "");
                forbidden.Add(site);
                continue;
            }

            if (error.Id is "CS0029" or "CS0266" && site.Kind is ExpressionKind.Segment or ExpressionKind.When && message.Contains("to 'bool'", StringComparison.Ordinal))
            {
                var type = message.Split('\'')[1];
                diagnostics.Add(DiagnosticDescriptors.NotBool, Map(error.Location, site, builder.Files), site.Describe(), type);
                continue;
            }

            if (error.Id == "CS0103" && site.Kind == ExpressionKind.Let && site.Playbook.Source.Fields.Any(f => message.Contains($"'{f.Name}'", StringComparison.Ordinal)))
            {
                message += "; a let value sees the whole population: use an aggregate such as Sum(c => c.field)";
            }
            else if (error.Id is "CS0103" or "CS0841" && message.Split('\'') is [_, var value, ..] && site.Playbook.Values.FirstOrDefault(v => v.Name == value) is { } later)
            {
                // A value read by a let (computed before any customer) or by a value above it.
                message = site.Kind == ExpressionKind.Let
                    ? $"'{value}' is a computed value, one per customer; a let value sees the whole population: aggregate the field it is computed from"
                    : $"'{value}' is a computed value defined below {site.Describe()}; a value sees only the values above it: move '{value}' up";
            }
            else if (error.Id == "CS0103" && message.Split('\'') is [_, var name, ..])
            {
                var known = site.Playbook.Source.Fields.Select(f => f.Name).Concat(site.Playbook.Source.Related.Select(r => r.Name))
                    .Concat(site.Playbook.Lets.Select(l => l.Name)).Concat(site.Playbook.Values.Select(v => v.Name)).Concat(site.Playbook.Segments.Select(s => s.Name)).Concat(HelperNames);
                message = $"'{name}' is not a field, related list, let value, computed value, segment or helper of playbook '{site.Playbook.Id}'{Yaml.YamlSchemaValidator.Suggest(name, known)}";
            }
            else if (error.Id == "CS1061" && message.Split('\'') is [_, var type, _, var member, ..] && RecordSource(type, sources) is { } source)
            {
                // A member of a related record (t.typ in tickets.Any(t => t.typ == 1)): name its source, not the generated class.
                message = $"'{member}' is not a field of source '{source.Name}'{Yaml.YamlSchemaValidator.Suggest(member, source.Fields.Select(f => f.Name).Concat(source.Related.Select(r => r.Name)))}";
            }

            diagnostics.Add(DiagnosticDescriptors.CSharpError, Map(error.Location, site, builder.Files), $"{error.Id}: {Humane(message, sources)}");
        }

        return forbidden;
    }

    /// <summary>The helpers conditions may call (the public members of <see cref="CompiledPlaybook{TRecord}"/>), for suggestions.</summary>
    private static readonly string[] HelperNames = [.. typeof(CompiledPlaybook<>).GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
        .Where(m => m is MethodInfo { IsSpecialName: false } or PropertyInfo && !m.Name.StartsWith("__", StringComparison.Ordinal))
        .Select(m => m.Name).Distinct()];

    /// <summary>The source whose generated record class is <paramref name="type"/> (<c>Record2</c>, <c>Record2[]</c>); null for other types.</summary>
    private static SourceDefinition? RecordSource(string type, IReadOnlyList<SourceDefinition> sources)
    {
        var name = type.Split('.')[^1].TrimEnd(']').TrimEnd('[');
        return name.StartsWith("Record", StringComparison.Ordinal) && int.TryParse(name.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < sources.Count
            ? sources[index]
            : null;
    }

    /// <summary>A compiler message without the generated code's names: a record class is named by its source, the engine's own members are not named.</summary>
    private static string Humane(string message, IReadOnlyList<SourceDefinition> sources)
    {
        message = GeneratedRecord().Replace(message, m => RecordSource(m.Value, sources) is { } source ? $"record of source '{source.Name}'{(m.Value.EndsWith(']') ? "[]" : "")}" : m.Value);
        message = message.Replace($"{PlaybookCompiler.Namespace}.", "", StringComparison.Ordinal);
        message = GeneratedPlaybook().Replace(message, "the playbook");
        return GeneratedMember().Replace(message, "(the engine's code)");
    }

    /// <summary>A member of a generated record named by its source: <c>'Key' of a record of source 'crm'</c>, not <c>Record0.Key</c>.</summary>
    private static string HumaneMember(string what, IReadOnlyList<SourceDefinition> sources)
    {
        var match = GeneratedRecord().Match(what);
        if (!match.Success || match.Index != 0 || match.Length >= what.Length || what[match.Length] != '.' || RecordSource(match.Value, sources) is not { } source)
        {
            return Humane(what, sources);
        }

        var member = what[(match.Length + 1)..];
        return member == ".ctor" ? $"new (a record of source '{source.Name}')" : $"{member} (of a record of source '{source.Name}')";
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\b(?:PlaybookRunner\.Generated\.)?Record\d+(?:\[\])?")]
    private static partial System.Text.RegularExpressions.Regex GeneratedRecord();

    [System.Text.RegularExpressions.GeneratedRegex(@"\bPlaybook\d+\b")]
    private static partial System.Text.RegularExpressions.Regex GeneratedPlaybook();

    [System.Text.RegularExpressions.GeneratedRegex(@"\b__\w+")]
    private static partial System.Text.RegularExpressions.Regex GeneratedMember();

    private static void CheckSite(SemanticModel model, SyntaxNode root, ExpressionSite site, IReadOnlyDictionary<string, string> files, DiagnosticBag diagnostics, bool instrumented, IReadOnlyList<Microsoft.CodeAnalysis.Text.TextSpan> errorSpans, IReadOnlyList<SourceDefinition> sources)
    {
        if (site.Kind is ExpressionKind.Let or ExpressionKind.Value
            && root.DescendantNodes(site.GeneratedSpan).OfType<Microsoft.CodeAnalysis.CSharp.Syntax.ExpressionSyntax>()
                .Where(n => site.GeneratedSpan.Contains(n.Span)).MaxBy(n => n.Span.Length) is { } expression
            && model.GetTypeInfo(expression).Type is { TypeKind: not TypeKind.Error } type
            && !ExpressionAllowList.IsScalar(type))
        {
            diagnostics.Add(DiagnosticDescriptors.LetType, Map(expression.GetLocation(), site, files), site.Describe(), type.ToDisplayString());
        }

        foreach (var (location, what, why) in ExpressionAllowList.Check(model, root, site.GeneratedSpan, site.Kind == ExpressionKind.Let, instrumented))
        {
            if (what == "=>" && root.FindToken(location.SourceSpan.Start).Parent?.AncestorsAndSelf().OfType<Microsoft.CodeAnalysis.CSharp.Syntax.LambdaExpressionSyntax>().FirstOrDefault() is { } lambda
                && errorSpans.Any(e => lambda.Body.Span.Contains(e)))
            {
                // A lambda whose body has a compiler error (reported) has no delegate type: not a second error.
                continue;
            }

            diagnostics.Add(DiagnosticDescriptors.Forbidden, Map(location, site, files), HumaneMember(what, sources), why);
        }

        foreach (var invocation in root.DescendantNodes(site.GeneratedSpan).OfType<Microsoft.CodeAnalysis.CSharp.Syntax.InvocationExpressionSyntax>())
        {
            if (invocation.Expression is not Microsoft.CodeAnalysis.CSharp.Syntax.IdentifierNameSyntax { Identifier.ValueText: "LastFired" })
            {
                continue;
            }

            var argument = invocation.ArgumentList.Arguments.FirstOrDefault()?.Expression;
            if (argument is Microsoft.CodeAnalysis.CSharp.Syntax.LiteralExpressionSyntax literal && literal.Token.Value is string rule)
            {
                if (!site.Playbook.Rules.Any(r => r.Id == rule))
                {
                    diagnostics.Add(DiagnosticDescriptors.UnknownRuleRef, Map(literal.GetLocation(), site, files), rule, site.Playbook.Id);
                }
            }
            else if (argument is not null)
            {
                diagnostics.Add(DiagnosticDescriptors.UnknownRuleRef, Map(argument.GetLocation(), site, files), argument.ToString(), site.Playbook.Id);
            }
        }
    }

    private static SourceLocation Map(Location location, ExpressionSite site, IReadOnlyDictionary<string, string> files)
    {
        var mapped = location.GetMappedLineSpan();
        if (!mapped.HasMappedPath || !files.TryGetValue(mapped.Path, out var path))
        {
            return site.Text.Location;
        }

        return new SourceLocation(
            path,
            mapped.StartLinePosition.Line + 1,
            mapped.StartLinePosition.Character + 1,
            mapped.EndLinePosition.Line + 1,
            mapped.EndLinePosition.Character + 1);
    }

    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        string[] wanted = ["System.Private.CoreLib", "System.Runtime", "System.Linq", "System.Collections", "System.Text.RegularExpressions", "netstandard"];
        var trusted = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var references = trusted
            .Where(p => wanted.Contains(Path.GetFileNameWithoutExtension(p), StringComparer.Ordinal))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToList();
        references.Add(MetadataReference.CreateFromFile(typeof(CompiledPlaybook<>).Assembly.Location));
        return [.. references];
    }
}
