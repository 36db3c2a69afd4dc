using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Core.Model;

/// <summary>Where one line of a text value starts in its file (1-based).</summary>
public readonly record struct LineStart(int Line, int Column);

/// <summary>
/// A string from a playbook (an expression or a template) with where it came from, so that a
/// position inside the text can be reported at the right line and column of the YAML file.
/// </summary>
public sealed record SpannedText(string Value, SourceLocation Location, IReadOnlyList<LineStart> Lines)
{
    /// <summary>Maps a 0-based line and column inside <see cref="Value"/> to a 1-based file location.</summary>
    public SourceLocation Map(int line, int column, int length = 1)
    {
        if (Lines.Count == 0)
        {
            return Location;
        }

        var start = Lines[Math.Clamp(line, 0, Lines.Count - 1)];
        var col = start.Column + column;
        return new SourceLocation(Location.Path, start.Line, col, start.Line, col + Math.Max(1, length));
    }
}
