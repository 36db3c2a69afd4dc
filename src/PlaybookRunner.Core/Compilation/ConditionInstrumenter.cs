using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace PlaybookRunner.Core.Compilation;

/// <summary>One part of a condition that <c>explain</c> shows: its source text and nesting depth.</summary>
public sealed record ExplainNode(int Index, string Text, int Depth);

/// <summary>
/// Rewrites a condition so that each part <c>explain</c> shows is wrapped in <c>__X(rule, n, part)</c>,
/// an identity that records the value: each operand of <c>&amp;&amp;</c> and <c>||</c>, each comparison
/// and its operands, and each call. Literals, lambdas and their bodies are left alone (a lambda body
/// runs per item; its value is the call's).
/// </summary>
internal static class ConditionInstrumenter
{
    public static (string Text, IReadOnlyList<ExplainNode> Nodes) Instrument(string expression, int rule)
    {
        var syntax = SyntaxFactory.ParseExpression(expression, options: CSharpParseOptions.Default.WithLanguageVersion(LanguageVersion.Latest), consumeFullText: true);
        var picked = new List<(ExpressionSyntax Node, int Depth)>();
        Visit(syntax, 0, picked);
        var nodes = picked.Select((p, i) => new ExplainNode(i, p.Node.ToString().ReplaceLineEndings(" "), p.Depth)).ToList();

        // Insertions: an opening before each node, a closing after; outer nodes open first and close last.
        var edits = new List<(int Position, int Order, string Text)>();
        for (var i = 0; i < picked.Count; i++)
        {
            var span = picked[i].Node.Span;
            edits.Add((span.Start, i, $"__X({rule}, {i}, "));
            edits.Add((span.End, -i, ")"));
        }

        var text = new StringBuilder(expression);
        foreach (var edit in edits.OrderByDescending(e => e.Position).ThenByDescending(e => e.Order))
        {
            text.Insert(edit.Position, edit.Text);
        }

        return (text.ToString(), nodes);
    }

    private static void Visit(ExpressionSyntax node, int depth, List<(ExpressionSyntax, int)> picked)
    {
        switch (node)
        {
            case ParenthesizedExpressionSyntax parenthesized:
                Visit(parenthesized.Expression, depth, picked);
                return;
            case PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.LogicalNotExpression } not:
                Visit(not.Operand, depth, picked);
                return;
            case BinaryExpressionSyntax logical when logical.IsKind(SyntaxKind.LogicalAndExpression) || logical.IsKind(SyntaxKind.LogicalOrExpression):
                foreach (var operand in Operands(logical, logical.Kind()))
                {
                    Pick(operand, depth, picked);
                }

                return;
            default:
                Pick(node, depth, picked);
                return;
        }
    }

    /// <summary>The operands of a chain of the same logical operator (a &amp;&amp; b &amp;&amp; c), flattened.</summary>
    private static IEnumerable<ExpressionSyntax> Operands(BinaryExpressionSyntax binary, SyntaxKind kind)
    {
        foreach (var side in new[] { binary.Left, binary.Right })
        {
            if (side is BinaryExpressionSyntax inner && inner.IsKind(kind))
            {
                foreach (var operand in Operands(inner, kind))
                {
                    yield return operand;
                }
            }
            else
            {
                yield return side;
            }
        }
    }

    private static void Pick(ExpressionSyntax node, int depth, List<(ExpressionSyntax, int)> picked)
    {
        while (node is ParenthesizedExpressionSyntax parenthesized)
        {
            node = parenthesized.Expression;
        }

        if (!Wrappable(node))
        {
            return;
        }

        picked.Add((node, depth));
        switch (node)
        {
            case BinaryExpressionSyntax logical when logical.IsKind(SyntaxKind.LogicalAndExpression) || logical.IsKind(SyntaxKind.LogicalOrExpression):
                foreach (var operand in Operands(logical, logical.Kind()))
                {
                    Pick(operand, depth + 1, picked);
                }

                break;
            case BinaryExpressionSyntax comparison when IsComparison(comparison):
                Pick(comparison.Left, depth + 1, picked);
                Pick(comparison.Right, depth + 1, picked);
                break;
            case PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.LogicalNotExpression } not:
                Pick(not.Operand, depth + 1, picked);
                break;
            case InvocationExpressionSyntax call:
                foreach (var argument in call.ArgumentList.Arguments)
                {
                    Pick(argument.Expression, depth + 1, picked);
                }

                break;
        }
    }

    private static bool IsComparison(BinaryExpressionSyntax binary) => binary.Kind() is SyntaxKind.EqualsExpression or SyntaxKind.NotEqualsExpression
        or SyntaxKind.LessThanExpression or SyntaxKind.LessThanOrEqualExpression or SyntaxKind.GreaterThanExpression or SyntaxKind.GreaterThanOrEqualExpression;

    /// <summary>Parts whose value can be passed through a generic identity and is worth showing.</summary>
    private static bool Wrappable(ExpressionSyntax node) => node is not (LiteralExpressionSyntax or LambdaExpressionSyntax or AnonymousMethodExpressionSyntax
        or DefaultExpressionSyntax or ImplicitObjectCreationExpressionSyntax or CollectionExpressionSyntax or ThrowExpressionSyntax
        or InterpolatedStringExpressionSyntax or DeclarationExpressionSyntax or PredefinedTypeSyntax)
        && node.Parent is not ArgumentSyntax { RefKindKeyword.RawKind: not 0 };
}
