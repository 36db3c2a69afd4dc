namespace PlaybookRunner.Core.Diagnostics;

/// <summary>How bad a diagnostic is.</summary>
public enum DiagnosticSeverity
{
    /// <summary>Worth knowing; never fails a command.</summary>
    Info,
    /// <summary>Probably a mistake; does not fail a command.</summary>
    Warning,
    /// <summary>Must be fixed; the command exits 1.</summary>
    Error,
}
