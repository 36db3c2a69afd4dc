namespace PlaybookRunner.Core.Diagnostics;

/// <summary>A 1-based span in a file. <see cref="EndColumn"/> is one past the last character.</summary>
public readonly record struct SourceLocation(string Path, int Line, int Column, int EndLine, int EndColumn)
{
    /// <summary>A location without a file, for diagnostics about the invocation itself.</summary>
    public static readonly SourceLocation None = new("", 0, 0, 0, 0);

    /// <summary>A single point.</summary>
    public static SourceLocation At(string path, int line, int column) => new(path, line, column, line, column + 1);

    /// <summary>True when this location names a file.</summary>
    public bool HasPath => Path.Length > 0;

    /// <summary>The same start with another end.</summary>
    public SourceLocation WithEnd(int endLine, int endColumn) => this with { EndLine = endLine, EndColumn = endColumn };
}
