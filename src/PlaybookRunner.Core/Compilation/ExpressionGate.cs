using System.Globalization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace PlaybookRunner.Core.Compilation;

/// <summary>
/// What an expression's text must pass before it is parsed as an expression and placed in the generated
/// source: size limits checked by a linear scan (so nothing recursive ever sees a hostile nesting), and a
/// lexical check of the WHOLE text, trivia included, so that nothing but tokens, spaces, line ends and
/// closed comments reaches the generated code: no directive (after any line terminator C# knows), no
/// disabled text, no conflict marker, no documentation comment, no comment left open.
/// </summary>
internal static class ExpressionGate
{
    /// <summary>The longest expression, in characters.</summary>
    public const int MaxLength = 10_000;

    /// <summary>The deepest nesting of brackets, and of the parsed syntax tree's expressions.</summary>
    public const int MaxDepth = 100;

    /// <summary>The most tokens (names, literals, operators) in one expression.</summary>
    public const int MaxTokens = 2_000;

    /// <summary>The deepest nesting of lambdas inside lambdas (query clauses count as lambdas; overload resolution is exponential in it).</summary>
    public const int MaxLambdaDepth = 3;

    /// <summary>
    /// The most work overload resolution may face: each token weighs 16 to the power of the lambdas around
    /// it, so a long body three lambdas deep is as costly as a huge expression.
    /// </summary>
    public const long MaxWeight = 150_000;

    /// <summary>The most arms of one switch expression.</summary>
    public const int MaxSwitchArms = 20;

    /// <summary>The most elements of one tuple, and subpatterns of one pattern.</summary>
    public const int MaxTupleElements = 8;

    /// <summary>A problem at a span of the expression's text.</summary>
    public readonly record struct Problem(TextSpan Span, string Message, bool TooLarge);

    /// <summary>Checks the text before any parser sees it; null when it may be parsed.</summary>
    public static Problem? CheckText(string text)
    {
        if (text.Length > MaxLength)
        {
            return new Problem(new TextSpan(MaxLength, 1), Invariant($"The expression is {text.Length:N0} characters long; at most {MaxLength:N0} are allowed: compute parts in segments or let values"), true);
        }

        // Brackets and runs of prefix operators, counted on the raw text: a bracket inside a string only
        // makes the count more cautious (closings never take it below zero).
        var depth = 0;
        var unary = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            switch (c)
            {
                case '(' or '[' or '{':
                    if (++depth > MaxDepth)
                    {
                        return TooDeep(i);
                    }

                    unary = 0;
                    break;
                case ')' or ']' or '}':
                    depth = Math.Max(0, depth - 1);
                    unary = 0;
                    break;
                case '!' or '~' or '-' or '+' or '^' or '&' or '*':
                    if (++unary > MaxDepth)
                    {
                        return TooDeep(i);
                    }

                    break;
                case ' ' or '\t':
                    break;
                default:
                    unary = 0;
                    break;
            }
        }

        var tokens = 0;
        foreach (var token in SyntaxFactory.ParseTokens(text, options: ParseOptions))
        {
            if (++tokens > MaxTokens + 1)
            {
                return new Problem(new TextSpan(token.SpanStart, Math.Max(1, token.Span.Length)), Invariant($"The expression has more than {MaxTokens:N0} tokens: compute parts in segments or let values"), true);
            }

            foreach (var trivia in token.LeadingTrivia.Concat(token.TrailingTrivia))
            {
                if (CheckTrivia(trivia) is { } problem)
                {
                    return problem;
                }
            }

            if (token.IsKind(SyntaxKind.HashToken) || token.IsKind(SyntaxKind.BadToken) && token.Text.Contains('#', StringComparison.Ordinal))
            {
                return Directive(token.Span);
            }

            if (token.IsKind(SyntaxKind.IdentifierToken) && token.ValueText.StartsWith("__", StringComparison.Ordinal))
            {
                // Checked on the author's text, before the engine adds its own __G and __X wrappers.
                return new Problem(token.Span, $"'{token.ValueText}' is a reserved name: names starting with '__' belong to the generated code", false);
            }

            if (token.IsKind(SyntaxKind.EndOfFileToken))
            {
                break;
            }
        }

        return null;
    }

    /// <summary>Checks the parsed expression's shape; null when it may be compiled.</summary>
    public static Problem? CheckTree(ExpressionSyntax syntax)
    {
        // Iterative: the tree may be deep; nothing here recurses.
        var stack = new Stack<(SyntaxNode Node, int Depth, int Lambdas)>();
        stack.Push((syntax, 1, 0));
        long weight = 0;
        while (stack.Count > 0)
        {
            var (node, depth, lambdas) = stack.Pop();
            if (node is LambdaExpressionSyntax or AnonymousMethodExpressionSyntax or QueryExpressionSyntax or QueryContinuationSyntax && ++lambdas > MaxLambdaDepth)
            {
                return new Problem(new TextSpan(node.SpanStart, 1), Invariant($"Lambdas are nested more than {MaxLambdaDepth} deep: compute the inner part in a segment or let value"), true);
            }

            if (depth > MaxDepth)
            {
                return TooDeep(node.SpanStart);
            }

            if (node is SwitchExpressionSyntax { Arms.Count: > MaxSwitchArms } switchExpression)
            {
                return new Problem(new TextSpan(switchExpression.SpanStart, 1), Invariant($"A switch has more than {MaxSwitchArms} arms: split it into segments or let values"), true);
            }

            if (node is TupleExpressionSyntax { Arguments.Count: > MaxTupleElements } or PositionalPatternClauseSyntax { Subpatterns.Count: > MaxTupleElements } or PropertyPatternClauseSyntax { Subpatterns.Count: > MaxTupleElements })
            {
                return new Problem(new TextSpan(node.SpanStart, 1), Invariant($"A tuple or pattern has more than {MaxTupleElements} parts: the compiler's pattern analysis grows exponentially with them"), true);
            }

            foreach (var token in node.ChildTokens())
            {
                weight += 1L << (4 * lambdas);
            }

            if (weight > MaxWeight)
            {
                return new Problem(new TextSpan(node.SpanStart, 1), Invariant($"The expression is too complex inside its lambdas (the compiler's work grows 16-fold with each lambda around a part): compute the inner parts in segments or let values"), true);
            }

            foreach (var child in node.ChildNodes())
            {
                stack.Push((child, node is ExpressionSyntax or PatternSyntax ? depth + 1 : depth, lambdas));
            }
        }

        return null;
    }

    private static CSharpParseOptions ParseOptions { get; } = CSharpParseOptions.Default.WithLanguageVersion(LanguageVersion.Latest).WithDocumentationMode(DocumentationMode.Parse);

    private static Problem? CheckTrivia(SyntaxTrivia trivia)
    {
        switch ((SyntaxKind)trivia.RawKind)
        {
            case SyntaxKind.WhitespaceTrivia or SyntaxKind.EndOfLineTrivia or SyntaxKind.SingleLineCommentTrivia:
                return null;
            case SyntaxKind.MultiLineCommentTrivia:
                var text = trivia.ToString();
                return text.Length >= 4 && text.EndsWith("*/", StringComparison.Ordinal)
                    ? null
                    : new Problem(new TextSpan(trivia.SpanStart, 2), "This comment is not closed: add '*/'", false);
            case SyntaxKind.SingleLineDocumentationCommentTrivia or SyntaxKind.MultiLineDocumentationCommentTrivia:
                return new Problem(new TextSpan(trivia.SpanStart, Math.Min(3, trivia.Span.Length)), "Documentation comments ('///', '/**') are not allowed in expressions; write '//' or '/* */'", false);
            case SyntaxKind.ConflictMarkerTrivia:
                return new Problem(new TextSpan(trivia.SpanStart, Math.Min(7, trivia.Span.Length)), "A merge conflict marker is not part of an expression: resolve the conflict", false);
        }

        if (trivia.IsDirective || trivia.IsKind(SyntaxKind.DisabledTextTrivia) || trivia.ToString().Contains('#', StringComparison.Ordinal))
        {
            return Directive(new TextSpan(trivia.SpanStart, Math.Max(1, trivia.Span.Length)));
        }

        return new Problem(new TextSpan(trivia.SpanStart, Math.Max(1, trivia.Span.Length)), $"Unexpected '{trivia.ToString().Trim()}' in the expression", false);
    }

    private static Problem Directive(TextSpan span) =>
        new(new TextSpan(span.Start, 1), "Preprocessor directives such as '#if', '#line' or '#pragma' are not allowed in expressions", false);

    private static Problem TooDeep(int position) =>
        new(new TextSpan(position, 1), Invariant($"The expression is nested more than {MaxDepth} deep: compute parts in segments or let values"), true);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
