using System.Text;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace PlaybookRunner.Core.Compilation;

/// <summary>
/// Wraps the body of every expression lambda in <c>__G(...)</c>, an identity that checks the evaluation's
/// time budget and memory limit. LINQ calls a lambda once per item, so iteration inside one expression
/// is preempted too, not only between records. Bodies that are nothing but a value whose type comes
/// from their context (null, default, new(), collection expressions, lambdas, throw) are left alone:
/// they do no work. Any other body that the guard would not compile with is an error (see RoslynCompiler).
/// </summary>
internal static class LambdaGuard
{
    public static string Guard(string expression)
    {
        var syntax = SyntaxFactory.ParseExpression(expression, options: CSharpParseOptions.Default.WithLanguageVersion(LanguageVersion.Latest), consumeFullText: true);
        var edits = new List<(int Position, int Order, string Text)>();
        foreach (var lambda in syntax.DescendantNodesAndSelf().OfType<LambdaExpressionSyntax>())
        {
            if (lambda.ExpressionBody is not { } body || !Guardable(body))
            {
                continue;
            }

            var depth = lambda.Ancestors().OfType<LambdaExpressionSyntax>().Count();
            // At one position the text must read: closings (innermost first), then openings (outermost first).
            edits.Add((body.SpanStart, 1000 + depth, "__G("));
            edits.Add((body.Span.End, depth, ")"));
        }

        var text = new StringBuilder(expression);
        foreach (var edit in edits.OrderByDescending(e => e.Position).ThenByDescending(e => e.Order))
        {
            text.Insert(edit.Position, edit.Text);
        }

        return text.ToString();
    }

    private static bool Guardable(ExpressionSyntax body)
    {
        while (body is ParenthesizedExpressionSyntax parenthesized)
        {
            body = parenthesized.Expression;
        }

        // Only values that do no work are left alone; a collection expression ([.. xs]) or new(args) does
        // work, so it is wrapped, and when the wrapper cannot compile the expression is an error.
        return body is not (LiteralExpressionSyntax { RawKind: (int)SyntaxKind.NullLiteralExpression or (int)SyntaxKind.DefaultLiteralExpression }
            or LambdaExpressionSyntax or AnonymousMethodExpressionSyntax or ImplicitObjectCreationExpressionSyntax { ArgumentList.Arguments.Count: 0, Initializer: null }
            or CollectionExpressionSyntax { Elements.Count: 0 } or ThrowExpressionSyntax or DefaultExpressionSyntax);
    }
}
