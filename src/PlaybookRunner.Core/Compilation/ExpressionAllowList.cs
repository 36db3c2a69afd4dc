using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace PlaybookRunner.Core.Compilation;

/// <summary>
/// Decides what playbook expressions may touch. Everything not listed is rejected at the token that
/// names it: files, network, processes, reflection, threading, environment, dynamic and unsafe code
/// never compile, so they never run.
/// </summary>
internal static class ExpressionAllowList
{
    private static readonly HashSet<string> AllowedTypes = new(StringComparer.Ordinal)
    {
        "System.Object", "System.String", "System.Char", "System.Boolean", "System.Byte", "System.SByte",
        "System.Int16", "System.UInt16", "System.Int32", "System.UInt32", "System.Int64", "System.UInt64",
        "System.Single", "System.Double", "System.Decimal", "System.DateTime", "System.DateTimeOffset",
        "System.DateOnly", "System.TimeOnly", "System.TimeSpan", "System.DayOfWeek", "System.DateTimeKind",
        "System.Math", "System.Nullable`1", "System.Nullable", "System.StringComparison", "System.StringComparer",
        "System.StringSplitOptions", "System.MidpointRounding", "System.Array", "System.Index", "System.Range",
        "System.Func`1", "System.Func`2", "System.Func`3", "System.Func`4", "System.Func`5",
        "System.Predicate`1", "System.Comparison`1", "System.IComparable`1", "System.IEquatable`1", "System.IFormattable",
        "System.ValueTuple", "System.ValueTuple`1", "System.ValueTuple`2", "System.ValueTuple`3", "System.ValueTuple`4",
        "System.ValueTuple`5", "System.ValueTuple`6", "System.ValueTuple`7", "System.ValueTuple`8",
        "System.Globalization.CultureInfo", "System.Globalization.NumberStyles", "System.Globalization.DateTimeStyles",
        "System.Linq.Enumerable", "System.Linq.IGrouping`2", "System.Linq.ILookup`2", "System.Linq.IOrderedEnumerable`1",
        "System.Collections.Generic.IEnumerable`1", "System.Collections.Generic.IReadOnlyList`1",
        "System.Collections.Generic.IReadOnlyCollection`1", "System.Collections.Generic.IList`1",
        "System.Collections.Generic.ICollection`1", "System.Collections.Generic.List`1", "System.Collections.Generic.Dictionary`2",
        "System.Collections.Generic.IReadOnlyDictionary`2", "System.Collections.Generic.IDictionary`2",
        "System.Collections.Generic.HashSet`1", "System.Collections.Generic.ISet`1", "System.Collections.Generic.IReadOnlySet`1",
        "System.Collections.Generic.KeyValuePair`2", "System.Collections.Generic.IEqualityComparer`1", "System.Collections.Generic.IComparer`1",
        "System.Collections.IEnumerable", "System.MemoryExtensions", "System.ReadOnlySpan`1",
        "System.Text.RegularExpressions.RegexOptions", "System.Text.RegularExpressions.Match",
        "System.Text.RegularExpressions.Group", "System.Text.RegularExpressions.Capture", "System.Text.RegularExpressions.GroupCollection",
        "System.Text.RegularExpressions.MatchCollection",
        typeof(CompiledPlaybook<>).FullName!, typeof(GeneratedRecord).FullName!, typeof(TimedRegex).FullName!,
    };

    private static readonly HashSet<string> AllowedNamespaces = new(StringComparer.Ordinal)
    {
        "System", "System.Linq", "System.Collections", "System.Collections.Generic", "System.Text",
        "System.Text.RegularExpressions", "System.Globalization",
    };

    private static readonly HashSet<string> ForbiddenMembers = new(StringComparer.Ordinal)
    {
        "GetType", "MemberwiseClone", "Finalize", "Method", "Target", "DynamicInvoke", "GetInvocationList",
        "BeginInvoke", "EndInvoke", "CreateInstance", "CreateInstanceFromArrayType", "CompileToAssembly",
        // They write into an array they are given, which may be a record's.
        "CopyTo", "TryCopyTo",
    };

    /// <summary>
    /// Members that change a collection: expressions only read, so a collection an expression builds
    /// cannot be changed either (a changing collection could carry a sequence from one step to the next
    /// and nest it without bound).
    /// </summary>
    private static readonly HashSet<string> CollectionWriters = new(StringComparer.Ordinal)
    {
        "Add", "TryAdd", "AddRange", "Insert", "InsertRange", "Remove", "RemoveAt", "RemoveAll", "RemoveRange", "RemoveWhere",
        "Clear", "UnionWith", "IntersectWith", "ExceptWith", "SymmetricExceptWith", "TrimExcess", "EnsureCapacity",
        "Sort", "Reverse", "Push", "Pop", "Enqueue", "Dequeue", "SetCapacity", "TryRemove", "GetOrAdd", "AddOrUpdate",
    };

    /// <summary>System.Array members that change an array in place: a record's arrays are read-only.</summary>
    private static readonly HashSet<string> ArrayWriters = new(StringComparer.Ordinal)
    {
        "Fill", "Reverse", "Sort", "Clear", "Copy", "ConstrainedCopy", "Resize", "SetValue", "Initialize",
    };

    private const string ReadOnly = ": records are read-only; LINQ gives a changed copy (OrderBy, Reverse, Select)";

    /// <summary>Finds every forbidden use inside <paramref name="span"/>, innermost only.</summary>
    /// <param name="model">The compilation's semantic model.</param>
    /// <param name="root">The generated source's root.</param>
    /// <param name="span">The expression's span in the generated source.</param>
    /// <param name="allowAggregates">Whether population aggregates may be used (let values).</param>
    /// <param name="instrumented">
    /// The expression carries the engine's own wrappers (<c>__G</c> budget checks, <c>__X</c> explain
    /// recorders): identities that are allowed; everything inside them is checked as usual.
    /// </param>
    public static IEnumerable<(Location Location, string What, string Why)> Check(SemanticModel model, SyntaxNode root, TextSpan span, bool allowAggregates, bool instrumented = false)
    {
        var found = new List<(TextSpan Span, Location Location, string What, string Why)>();
        foreach (var node in root.DescendantNodes(span).Where(n => span.Contains(n.Span)))
        {
            // The right-hand name of a.b is judged with a.b itself, so a dotted chain is reported once.
            if (node.Parent is MemberAccessExpressionSyntax access && access.Name == node
                || node.Parent is QualifiedNameSyntax qualified && qualified.Right == node)
            {
                continue;
            }

            if (instrumented && IsEngineWrapper(node))
            {
                continue;
            }

            if (Inspect(model, node, allowAggregates) is { } problem && !(instrumented && problem.What is "__G" or "__X"))
            {
                var target = node switch
                {
                    MemberAccessExpressionSyntax m => m.Name,
                    QualifiedNameSyntax q => q.Right,
                    InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax m } => m.Name,
                    _ => node,
                };
                found.Add((node.Span, target.GetLocation(), problem.What, problem.Why));
            }
        }

        return found
            .Where(f => !found.Any(o => o.Span != f.Span && f.Span.Contains(o.Span)))
            .GroupBy(f => f.Span)
            .Select(g => (g.First().Location, g.First().What, g.First().Why));
    }

    private static bool IsEngineWrapper(SyntaxNode node) => node switch
    {
        IdentifierNameSyntax { Identifier.ValueText: "__G" or "__X" } => true,
        InvocationExpressionSyntax { Expression: IdentifierNameSyntax { Identifier.ValueText: "__G" or "__X" } } => true,
        _ => false,
    };

    private static (string What, string Why)? Inspect(SemanticModel model, SyntaxNode node, bool allowAggregates)
    {
        switch (node)
        {
            case AliasQualifiedNameSyntax alias:
                return (alias.ToString(), "");
            case AttributeSyntax attribute:
                return ($"[{attribute}]", ": attributes are not allowed");
            case StackAllocArrayCreationExpressionSyntax or ImplicitStackAllocArrayCreationExpressionSyntax:
                return ("stackalloc", "");
            case RefTypeExpressionSyntax or RefValueExpressionSyntax or MakeRefExpressionSyntax:
                return (node.GetFirstToken().Text, "");
            case SizeOfExpressionSyntax:
                return ("sizeof", "");
            case TypeOfExpressionSyntax:
                return ("typeof", ": reflection is not available");
            case PointerTypeSyntax or FunctionPointerTypeSyntax:
                return (node.ToString(), ": unsafe code is not allowed");
            case PrefixUnaryExpressionSyntax p when p.IsKind(SyntaxKind.AddressOfExpression) || p.IsKind(SyntaxKind.PointerIndirectionExpression):
                return (p.OperatorToken.Text, ": unsafe code is not allowed");
            case ArgumentSyntax { RefKindKeyword.RawKind: not 0 } arg:
                return (arg.RefKindKeyword.Text, ": ref and out arguments are not allowed");
            case AssignmentExpressionSyntax assignment:
                return (assignment.OperatorToken.Text, ": assignments are not allowed; expressions only read the record");
            case PrefixUnaryExpressionSyntax p when p.IsKind(SyntaxKind.PreIncrementExpression) || p.IsKind(SyntaxKind.PreDecrementExpression):
                return (p.OperatorToken.Text, ": assignments are not allowed; expressions only read the record");
            case PostfixUnaryExpressionSyntax p when p.IsKind(SyntaxKind.PostIncrementExpression) || p.IsKind(SyntaxKind.PostDecrementExpression):
                return (p.OperatorToken.Text, ": assignments are not allowed; expressions only read the record");
            case LambdaExpressionSyntax { Block: not null } lambda:
                return ("{", ": statement lambdas are not allowed; write an expression lambda such as c => c.revenue" + (lambda.Block.Statements.Count > 0 ? "" : ""));
            case AnonymousMethodExpressionSyntax:
                return ("delegate", ": anonymous methods are not allowed; write an expression lambda");
            case QueryExpressionSyntax:
                // Query clauses become lambdas the budget guard cannot wrap.
                return ("from", ": query syntax is not allowed; write LINQ methods with lambdas (tags.Where(t => ...).Select(...))");
            case ThisExpressionSyntax or BaseExpressionSyntax:
                return (node.ToString(), ": write helpers and fields by name");
            case IdentifierNameSyntax { Identifier.ValueText: var name } when name.StartsWith("__", StringComparison.Ordinal):
                return (name, ": names starting with '__' are reserved");
            case InvocationExpressionSyntax call when model.GetSymbolInfo(call).Symbol is IMethodSymbol { MethodKind: MethodKind.DelegateInvoke }:
                // Lambdas are passed to LINQ and the helpers, never called or stored: no recursion, so no stack overflow.
                return ("()", ": a lambda cannot be called directly; pass it to LINQ or a helper");
            case InvocationExpressionSyntax call when Bounded(model, call) is { } bound:
                return bound;
            case LambdaExpressionSyntax lambda when !IsDelegateArgument(model, lambda):
                return ("=>", ": a lambda can only be passed to LINQ or a helper that takes one; it cannot be stored, returned or put in a collection");
            case ObjectCreationExpressionSyntax creation when creation.Type.ToString() is "string" or "String" or "System.String"
                && creation.ArgumentList is { Arguments.Count: 2 } args && !IsSmallConstant(model, args.Arguments[1].Expression, MaxPadding):
                return ("new string", string.Create(System.Globalization.CultureInfo.InvariantCulture, $": its count must be a constant of at most {MaxPadding:N0}"));
            case ArrayCreationExpressionSyntax array when !SmallArray(model, array):
                return ($"new {array.Type}", string.Create(System.Globalization.CultureInfo.InvariantCulture, $": array sizes must be constants whose product is at most {MaxGenerated:N0}"));
        }

        if (node is TypeSyntax && node.Parent is not (QualifiedNameSyntax or MemberAccessExpressionSyntax)
            && model.GetSymbolInfo(node).Symbol is INamedTypeSymbol { TypeKind: TypeKind.Delegate } delegateType)
        {
            return (delegateType.ToDisplayString(), ": delegate types cannot be named; write a lambda where LINQ or a helper takes one");
        }

        if (node is ExpressionSyntax value and not LambdaExpressionSyntax && model.GetTypeInfo(value).Type is { TypeKind: TypeKind.Delegate })
        {
            return (value.ToString(), ": a lambda value cannot be passed on, stored or called; write the lambda where LINQ or a helper takes one");
        }

        if (node is IdentifierNameSyntax or MemberAccessExpressionSyntax && node.Parent is not InvocationExpressionSyntax
            && !(node.Parent is MemberAccessExpressionSyntax parentAccess && parentAccess.Expression == node)
            && model.GetSymbolInfo(node) is { Symbol: null, CandidateReason: CandidateReason.MemberGroup } or { Symbol: IMethodSymbol }
            && model.GetConversion(node).IsMethodGroup)
        {
            return (node.ToString(), ": pass a lambda instead of a method name, e.g. x => Math.Abs(x)");
        }

        if (node is ExpressionSyntax or TypeSyntax)
        {
            var info = model.GetSymbolInfo(node);
            var symbol = info.Symbol ?? (info.CandidateSymbols.Length == 1 ? info.CandidateSymbols[0] : null);
            if (symbol is not null && CheckSymbol(symbol, allowAggregates) is { } bad)
            {
                return bad;
            }

            var type = model.GetTypeInfo(node).Type;
            if (type is not null && !IsAllowed(type))
            {
                return (type.ToDisplayString(), Why(type));
            }
        }

        if (node is ParameterSyntax or VariableDeclaratorSyntax or SingleVariableDesignationSyntax)
        {
            var declared = model.GetDeclaredSymbol(node);
            var type = declared switch
            {
                IParameterSymbol p => p.Type,
                ILocalSymbol l => l.Type,
                _ => null,
            };
            if (type is not null && !IsAllowed(type))
            {
                return (type.ToDisplayString(), Why(type));
            }
        }

        return null;
    }

    /// <summary>The most items a generator (Enumerable.Range, Enumerable.Repeat, an array size) may produce.</summary>
    public const int MaxGenerated = 100_000;

    /// <summary>The widest padding (string.PadLeft, string.PadRight) an expression may ask for.</summary>
    public const int MaxPadding = 10_000;

    /// <summary>
    /// Calls that would make work or memory out of a number rather than out of the data must take a
    /// small constant: otherwise one expression could loop or allocate without bound.
    /// </summary>
    private static (string What, string Why)? Bounded(SemanticModel model, InvocationExpressionSyntax call)
    {
        if (model.GetSymbolInfo(call).Symbol is not IMethodSymbol method)
        {
            return null;
        }

        // The accumulator: TSource with one type argument, TAccumulate (the second) with more.
        if (method.ContainingType?.ToDisplayString() == "System.Linq.Enumerable"
            && (method.Name == "Aggregate" && !IsScalar(method.TypeArguments[Math.Min(1, method.TypeArguments.Length - 1)])
                || method.Name == "AggregateBy" && !IsScalar(method.TypeArguments[^1])))
        {
            // A sequence carried from one step to the next can nest without bound (and overflow the stack).
            return ($"Enumerable.{method.Name}", ": its accumulator must be a number, bool, text or date, not a sequence or object");
        }

        var (parameterName, limit) = (method.ContainingType?.ToDisplayString(), method.Name) switch
        {
            ("System.Linq.Enumerable", "Range" or "Repeat") => ("count", MaxGenerated),
            ("string", "PadLeft" or "PadRight") => ("totalWidth", MaxPadding),
            _ => ("", 0),
        };
        var definition = (method.ReducedFrom ?? method).OriginalDefinition;
        var ordinal = definition.Parameters.IndexOf(definition.Parameters.FirstOrDefault(p => p.Name == parameterName)!) - (method.ReducedFrom is null ? 0 : 1);
        if (parameterName.Length == 0 || ordinal < 0)
        {
            return null;
        }

        // Found by name when the call names its arguments, else by position.
        var arguments = call.ArgumentList.Arguments;
        var argument = arguments.FirstOrDefault(a => a.NameColon?.Name.Identifier.ValueText == parameterName)
            ?? (arguments.Count > ordinal && arguments.Take(ordinal + 1).All(a => a.NameColon is null) ? arguments[ordinal] : null);
        if (argument is null || IsSmallConstant(model, argument.Expression, limit))
        {
            return argument is null && arguments.Any(a => a.NameColon is not null)
                ? ($"{method.ContainingType!.Name}.{method.Name}", ": name no arguments of this call")
                : null;
        }

        return ($"{method.ContainingType!.Name}.{method.Name}", string.Create(System.Globalization.CultureInfo.InvariantCulture, $": its count must be a constant of at most {limit:N0}"));
    }

    /// <summary>
    /// A lambda may only be an argument whose parameter is a delegate in the method's definition (LINQ's
    /// selectors, the aggregates), never a value of a type parameter (Enumerable.Repeat, Aggregate's seed,
    /// an array element): so no lambda can ever reach another, or itself, and nothing recurses.
    /// </summary>
    private static bool IsDelegateArgument(SemanticModel model, LambdaExpressionSyntax lambda)
    {
        if (lambda.Parent is not ArgumentSyntax { Parent: ArgumentListSyntax { Parent: InvocationExpressionSyntax call } list } argument)
        {
            return false;
        }

        var info = model.GetSymbolInfo(call);
        if ((info.Symbol ?? info.CandidateSymbols.FirstOrDefault()) is not IMethodSymbol method)
        {
            // The call does not bind: the compiler reports it; nothing runs.
            return true;
        }

        var definition = (method.ReducedFrom ?? method).OriginalDefinition;
        var offset = method.ReducedFrom is null ? 0 : 1;
        var parameter = argument.NameColon is { } named
            ? definition.Parameters.FirstOrDefault(p => p.Name == named.Name.Identifier.ValueText)
            : definition.Parameters.ElementAtOrDefault(list.Arguments.IndexOf(argument) + offset);
        return parameter?.Type is INamedTypeSymbol { TypeKind: TypeKind.Delegate };
    }

    private static bool SmallArray(SemanticModel model, ArrayCreationExpressionSyntax array)
    {
        long product = 1;
        foreach (var size in array.Type.RankSpecifiers.SelectMany(r => r.Sizes).Where(s => s is not OmittedArraySizeExpressionSyntax))
        {
            if (!IsSmallConstant(model, size, MaxGenerated))
            {
                return false;
            }

            product *= (int)model.GetConstantValue(size).Value!;
            if (product > MaxGenerated)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>True for the values a let may hold and an accumulator may carry: numbers, bool, char, text, dates and times.</summary>
    internal static bool IsScalar(ITypeSymbol type)
    {
        if (type is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T } nullable)
        {
            type = nullable.TypeArguments[0];
        }

        return type.SpecialType is >= SpecialType.System_Boolean and <= SpecialType.System_String or SpecialType.System_DateTime
            || type.ToDisplayString() is "System.DateTimeOffset" or "System.DateOnly" or "System.TimeOnly" or "System.TimeSpan";
    }

    private static bool IsSmallConstant(SemanticModel model, ExpressionSyntax expression, int limit) =>
        model.GetConstantValue(expression) is { HasValue: true, Value: int value } && value >= 0 && value <= limit;

    private static string Why(ITypeSymbol type) => type switch
    {
        IDynamicTypeSymbol => ": dynamic is not allowed",
        IPointerTypeSymbol or IFunctionPointerTypeSymbol => ": unsafe code is not allowed",
        _ => "",
    };

    private static (string What, string Why)? CheckSymbol(ISymbol symbol, bool allowAggregates)
    {
        switch (symbol)
        {
            case INamespaceSymbol ns:
                return ns.IsGlobalNamespace || AllowedNamespaces.Contains(ns.ToDisplayString()) ? null : (ns.ToDisplayString(), "");
            case ITypeSymbol type:
                return IsAllowed(type) ? null : (type.ToDisplayString(), Why(type));
            case IAliasSymbol alias:
                return (alias.Name + "::", "");
            case ILocalSymbol or IParameterSymbol or IRangeVariableSymbol or IDiscardSymbol or ILabelSymbol:
                return null;
        }

        if (symbol is IMethodSymbol { MethodKind: MethodKind.AnonymousFunction })
        {
            return null;
        }

        if (symbol is IMethodSymbol { ReducedFrom: { } reduced })
        {
            symbol = reduced;
        }

        var containing = symbol.ContainingType;
        var display = containing is null ? symbol.Name : $"{containing.OriginalDefinition.ToDisplayString()}.{symbol.Name}";
        if (symbol.Name.StartsWith("__", StringComparison.Ordinal))
        {
            return (symbol.Name, ": names starting with '__' are reserved");
        }

        if (containing is not null && !IsAllowed(containing))
        {
            return (display, Why(containing));
        }

        if (ForbiddenMembers.Contains(symbol.Name))
        {
            return (display, symbol.Name.EndsWith("CopyTo", StringComparison.Ordinal) ? ReadOnly : "");
        }

        if (containing?.SpecialType == SpecialType.System_Array && ArrayWriters.Contains(symbol.Name))
        {
            return (display, ReadOnly);
        }

        if (symbol is IMethodSymbol && CollectionWriters.Contains(symbol.Name)
            && containing?.ContainingNamespace?.ToDisplayString() == "System.Collections.Generic")
        {
            return (display, ": expressions only read; a collection cannot be changed (build the one you need with LINQ)");
        }

        if (containing is not null && (containing.Name == "GeneratedRecord" || containing.BaseType?.Name == "GeneratedRecord") && symbol is not IFieldSymbol)
        {
            // A record shows its fields and related lists; the members the engine uses are not the author's.
            return (display, ": only a record's fields and related lists can be read");
        }

        if (containing is { Name: "CompiledPlaybook" } && (symbol.DeclaredAccessibility != Accessibility.Public || symbol is not (IMethodSymbol or IPropertySymbol)))
        {
            return (symbol.Name, ": only the documented helpers can be used");
        }

        if (symbol is IMethodSymbol { Parameters: var parameters } && parameters.Any(p => p.Type.OriginalDefinition.ToDisplayString() == "System.Span<T>"))
        {
            return (display, ReadOnly);
        }

        if (containing?.SpecialType == SpecialType.System_DateTime || containing?.ToDisplayString() == "System.DateTimeOffset")
        {
            if (symbol.Name is "Now" or "UtcNow" or "Today")
            {
                return (display, ": use Now and Today, the evaluation instant (plan --as-of)");
            }
        }

        if (symbol.Name == "GetHashCode")
        {
            return (display, ": hash codes differ between runs");
        }

        if (containing?.ToDisplayString() == "System.Text.RegularExpressions.Regex"
            && (symbol.Name == "InfiniteMatchTimeout" || symbol is IMethodSymbol { Parameters: var ps } && ps.Any(p => p.Type.ToDisplayString() == "System.TimeSpan")))
        {
            return (display, ": regular expressions use the fixed match timeout");
        }

        if (!allowAggregates && symbol is IMethodSymbol aggregate
            && aggregate.GetAttributes().Any(a => a.AttributeClass?.Name == "PopulationAggregateAttribute"))
        {
            return (symbol.Name, ": population aggregates are allowed in let values only; compute it in let and use the name here");
        }

        if (symbol is IMethodSymbol method)
        {
            foreach (var t in method.TypeArguments.Append(method.ReturnType))
            {
                if (!IsAllowed(t))
                {
                    return (t.ToDisplayString(), Why(t));
                }
            }
        }

        return null;
    }

    private static bool IsGenerated(INamedTypeSymbol? type) =>
        type?.ContainingNamespace?.ToDisplayString() == CSharpSourceBuilder.Namespace;

    /// <summary>True when values of this type may appear in an expression.</summary>
    public static bool IsAllowed(ITypeSymbol type)
    {
        switch (type)
        {
            case IErrorTypeSymbol or ITypeParameterSymbol:
                return true;
            case IArrayTypeSymbol array:
                return IsAllowed(array.ElementType);
            case IPointerTypeSymbol or IFunctionPointerTypeSymbol or IDynamicTypeSymbol:
                return false;
            case INamedTypeSymbol named:
                if (named.IsAnonymousType || IsGenerated(named))
                {
                    return true;
                }

                if (named.IsTupleType)
                {
                    return named.TupleElements.All(e => IsAllowed(e.Type));
                }

                var definition = named.OriginalDefinition;
                var name = definition.ContainingNamespace is { IsGlobalNamespace: false } ns
                    ? $"{ns.ToDisplayString()}.{definition.MetadataName}"
                    : definition.MetadataName;
                if (definition.ContainingType is not null)
                {
                    return false;
                }

                return AllowedTypes.Contains(name) && named.TypeArguments.All(IsAllowed);
            default:
                return false;
        }
    }
}
