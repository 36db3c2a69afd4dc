namespace PlaybookRunner.Core.Diagnostics;

/// <summary>One reported problem: a descriptor, where it is, and the message arguments.</summary>
public sealed record Diagnostic(DiagnosticDescriptor Descriptor, SourceLocation Location, DiagnosticSeverity Severity, string Message)
{
    /// <summary>Creates a diagnostic with the descriptor's default severity.</summary>
    public static Diagnostic Create(DiagnosticDescriptor descriptor, SourceLocation location, params object?[] args) =>
        new(descriptor, location, descriptor.DefaultSeverity, descriptor.Format(args));

    /// <summary>The message, on one line: text from data never starts a new line of output (<see cref="SafeText"/>).</summary>
    public string Message { get; init; } = SafeText.OneLine(Message);

    /// <summary>The stable ID, e.g. PB2001.</summary>
    public string Id => Descriptor.Id;

    /// <summary>True for errors.</summary>
    public bool IsError => Severity == DiagnosticSeverity.Error;
}
