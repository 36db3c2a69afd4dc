using System.Globalization;

namespace PlaybookRunner.Core.Diagnostics;

/// <summary>The stable identity of a kind of diagnostic: an ID that is never reused, a title and a message format.</summary>
public sealed record DiagnosticDescriptor(
    string Id,
    string Title,
    string MessageFormat,
    string Category,
    DiagnosticSeverity DefaultSeverity,
    string Help)
{
    /// <summary>Formats the message with invariant culture, on one line whatever the arguments hold (<see cref="SafeText"/>).</summary>
    public string Format(object?[] args) =>
        args.Length == 0 ? MessageFormat : SafeText.OneLine(string.Format(CultureInfo.InvariantCulture, MessageFormat, args));
}
