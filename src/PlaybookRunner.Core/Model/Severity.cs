namespace PlaybookRunner.Core.Model;

/// <summary>How urgent a finding is.</summary>
public enum Severity
{
    /// <summary>For information.</summary>
    Info,
    /// <summary>Needs attention; the default.</summary>
    Warning,
    /// <summary>Needs attention now.</summary>
    Critical,
}
