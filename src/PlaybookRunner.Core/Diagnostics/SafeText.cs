using System.Globalization;
using System.Text;

namespace PlaybookRunner.Core.Diagnostics;

/// <summary>
/// Text from data (a cell, a file name, an exception's message) made safe for a line of output: it can
/// start no new line (no forged <c>::error</c> workflow command or <c>file(line,col): error</c> line) and
/// send no control sequence to a terminal; what was escaped stays visible.
/// </summary>
public static class SafeText
{
    /// <summary>
    /// True for characters never written raw: C0 and C1 controls, DEL, the Unicode line and paragraph
    /// separators, and the bidirectional formatting characters that reorder what a terminal or browser shows.
    /// </summary>
    public static bool IsUnsafe(char c) => char.IsControl(c) || c is '\u2028' or '\u2029' or '\u061C' or '\u200E' or '\u200F' or '\uFEFF'
        || c is >= '\u202A' and <= '\u202E' || c is >= '\u2066' and <= '\u2069';

    /// <summary>Data on one line of a report: line breaks as spaces, trimmed, every other control character escaped visibly.</summary>
    public static string ReportLine(string? text) => OneLine((text ?? "").ReplaceLineEndings(" ").Trim());

    /// <summary>The text on one line: every unsafe character (line breaks included) written as an escape such as <c>\n</c> or <c>\u001B</c>.</summary>
    public static string OneLine(string? text) => Escape(text ?? "", keepLineBreaks: false);

    /// <summary>Multi-line text for a terminal: line breaks and tabs kept, every other unsafe character escaped.</summary>
    public static string Visible(string? text) => Escape(text ?? "", keepLineBreaks: true);

    private static string Escape(string text, bool keepLineBreaks)
    {
        var first = IndexOfUnsafe(text, keepLineBreaks);
        if (first < 0)
        {
            return text;
        }

        var builder = new StringBuilder(text.Length + 16).Append(text, 0, first);
        for (var i = first; i < text.Length; i++)
        {
            var c = text[i];
            if (!IsUnsafe(c) || keepLineBreaks && (c is '\n' or '\t' || c == '\r' && i + 1 < text.Length && text[i + 1] == '\n'))
            {
                builder.Append(c);
                continue;
            }

            builder.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ => string.Create(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}"),
            });
        }

        return builder.ToString();
    }

    private static int IndexOfUnsafe(string text, bool keepLineBreaks)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (IsUnsafe(c) && !(keepLineBreaks && (c is '\n' or '\t' || c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')))
            {
                return i;
            }
        }

        return -1;
    }
}

/// <summary>
/// A writer for a terminal or a CI log: every character passes through <see cref="SafeText.Visible"/>, so
/// whatever a command prints (a rendered body in <c>explain</c>, a key in <c>history</c>) cannot send an
/// escape sequence; line breaks pass, but a line that starts with <c>::</c> is written <c>\u003A:</c>, so
/// it is no workflow command to a CI runner.
/// </summary>
public sealed class SafeTextWriter(TextWriter inner) : TextWriter
{
    private bool _lineStart = true;

    /// <summary>The writer this one writes to.</summary>
    public TextWriter Inner => inner;

    public override Encoding Encoding => inner.Encoding;

    public override IFormatProvider FormatProvider => inner.FormatProvider;

    [System.Diagnostics.CodeAnalysis.AllowNull]
    public override string NewLine
    {
        get => inner.NewLine;
        set => inner.NewLine = value;
    }

    public override void Write(char value) => Write(value.ToString());

    public override void Write(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        var text = SafeText.Visible(value);
        var builder = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == ':' && _lineStart && i + 1 < text.Length && text[i + 1] == ':')
            {
                // A line that starts with '::' (after spaces) is a workflow command to a CI runner: shown, not obeyed.
                builder.Append("\\u003A");
                _lineStart = false;
                continue;
            }

            builder.Append(c);
            _lineStart = c == '\n' || _lineStart && c is ' ' or '\t' or '\r';
        }

        inner.Write(builder.ToString());
    }

    public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

    public override void WriteLine(string? value)
    {
        Write(value);
        Write(NewLine);
    }

    public override void Flush() => inner.Flush();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Flush();
        }

        base.Dispose(disposing);
    }
}
