using Microsoft.CodeAnalysis.Text;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Compilation;

/// <summary>What an expression is for: it decides what is in scope and what type it must have.</summary>
internal enum ExpressionKind
{
    Let,
    Segment,
    When,
    Value,
}

/// <summary>
/// One user expression placed in the generated source, with where it sits there and the text placed
/// (the expression, or its instrumented form), whose tokens the generated source must read unchanged.
/// </summary>
internal sealed record ExpressionSite(
    PlaybookDefinition Playbook,
    ExpressionKind Kind,
    string Name,
    SpannedText Text,
    TextSpan GeneratedSpan,
    string Placed)
{
    public string Describe() => Kind switch
    {
        ExpressionKind.Let => $"let '{Name}'",
        ExpressionKind.Segment => $"segment '{Name}'",
        ExpressionKind.Value => $"value '{Name}'",
        _ => $"'when' of rule '{Name}'",
    };
}
