using System.Globalization;
using System.Text;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Loading;

/// <summary>A suppressions.yaml that <c>playbook suppress</c> or <c>unsuppress</c> cannot edit as text, and why.</summary>
internal sealed class SuppressionsFileException(string message) : Exception(message);

/// <summary>
/// Edits a workspace's suppressions.yaml as text for <c>playbook suppress</c> and <c>unsuppress</c>: entries are
/// removed and one is appended to the list, and every other line (comments, the other entries and how they are
/// written) is kept as it is, so that the change reads in review as the one entry it is.
/// </summary>
internal static class SuppressionsFile
{
    /// <summary>The file's name, beside runner.yaml at the workspace's root.</summary>
    public const string FileName = "suppressions.yaml";

    private const string Header = "# Findings we know about and deliberately do not act on. Each needs a justification; plan shows it.\n";

    /// <summary>
    /// The text of the file with the entries whose mappings start on <paramref name="removeLines"/> (1-based, as the
    /// loader located them) taken out and <paramref name="add"/> appended; <paramref name="remaining"/> is how many
    /// entries are left besides the added one (none: the list is written <c>[]</c>). <paramref name="text"/> is null
    /// for a file that does not exist yet.
    /// </summary>
    public static string Edit(string? text, IReadOnlyCollection<int> removeLines, SuppressionDefinition? add, int remaining)
    {
        var newline = text?.Contains("\r\n", StringComparison.Ordinal) == true ? "\r\n" : "\n";
        var lines = text is null ? [] : text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').ToList();
        if (lines.Count > 0 && lines[^1].Length == 0)
        {
            lines.RemoveAt(lines.Count - 1);
        }

        var keyLine = lines.FindIndex(l => l.StartsWith("suppressions", StringComparison.Ordinal) && l["suppressions".Length..].TrimStart().StartsWith(':'));
        if (keyLine < 0)
        {
            if (lines.Any(l => l.Trim().Length > 0 && !l.TrimStart().StartsWith('#')))
            {
                throw new SuppressionsFileException("it has no 'suppressions:' list at the start of a line");
            }

            if (lines.Count == 0)
            {
                lines.Add(Header.TrimEnd('\n'));
            }

            lines.Add("suppressions:");
            keyLine = lines.Count - 1;
        }

        var value = WithoutComment(lines[keyLine][(lines[keyLine].IndexOf(':', StringComparison.Ordinal) + 1)..]).Trim();
        if (value == "[]")
        {
            lines[keyLine] = "suppressions:";
        }
        else if (value.Length > 0)
        {
            throw new SuppressionsFileException("its list is written on one line ([...]); write it as a block list, one '- rule: ...' entry per item, to edit it with this command");
        }

        var indent = "  ";
        var remove = new SortedSet<int>();
        foreach (var line in removeLines)
        {
            var (start, end, dashIndent) = EntrySpan(lines, line - 1);
            indent = new string(' ', dashIndent);
            for (var i = start; i < end; i++)
            {
                remove.Add(i);
            }
        }

        if (removeLines.Count == 0 && FirstEntry(lines, keyLine) is { } first)
        {
            indent = new string(' ', first);
        }

        lines = [.. lines.Where((_, i) => !remove.Contains(i))];
        if (add is not null)
        {
            lines.AddRange(Entry(indent, add));
        }
        else if (remaining == 0)
        {
            keyLine = lines.FindIndex(l => l.StartsWith("suppressions", StringComparison.Ordinal));
            lines[keyLine] = "suppressions: []";
        }

        return string.Join(newline, lines) + newline;
    }

    /// <summary>One entry as the commands write it: block style, every text double-quoted.</summary>
    private static IEnumerable<string> Entry(string indent, SuppressionDefinition suppression)
    {
        yield return $"{indent}- rule: {Quote(suppression.Rule.ToString())}";
        if (suppression.Key is { } key)
        {
            yield return $"{indent}  key: {Quote(key)}";
        }

        if (suppression.Until is { } until)
        {
            yield return $"{indent}  until: {until.ToString(DateFormats.Date, CultureInfo.InvariantCulture)}";
        }

        yield return $"{indent}  justification: {Quote(suppression.Justification)}";
    }

    /// <summary>A YAML double-quoted scalar: quotes and backslashes escaped, every control or line-breaking character as <c>\uXXXX</c>.</summary>
    public static string Quote(string text)
    {
        var quoted = new StringBuilder(text.Length + 2).Append('"');
        foreach (var c in text)
        {
            if (c is '"' or '\\')
            {
                quoted.Append('\\').Append(c);
            }
            else if (char.IsControl(c) || c is '\u2028' or '\u2029' or '\uFEFF')
            {
                quoted.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                quoted.Append(c);
            }
        }

        return quoted.Append('"').ToString();
    }

    /// <summary>
    /// The lines of the entry whose mapping starts on line index <paramref name="at"/>: from its <c>-</c> to the
    /// last line indented deeper than it (blank lines after it stay), and the dash's indentation.
    /// </summary>
    private static (int Start, int End, int DashIndent) EntrySpan(List<string> lines, int at)
    {
        var start = at;
        while (start >= 0 && !lines[start].TrimStart().StartsWith('-'))
        {
            if (start < at && lines[start].Trim().Length > 0)
            {
                throw new SuppressionsFileException($"the entry at line {(at + 1).ToString(CultureInfo.InvariantCulture)} is not a '- ...' item of the list");
            }

            start--;
        }

        if (start < 0)
        {
            throw new SuppressionsFileException($"the entry at line {(at + 1).ToString(CultureInfo.InvariantCulture)} is not a '- ...' item of the list");
        }

        var dashIndent = lines[start].Length - lines[start].TrimStart().Length;
        var end = start + 1;
        var last = start;
        while (end < lines.Count)
        {
            var line = lines[end];
            if (line.Trim().Length > 0)
            {
                if (line.Length - line.TrimStart().Length <= dashIndent)
                {
                    break;
                }

                last = end;
            }

            end++;
        }

        return (start, last + 1, dashIndent);
    }

    /// <summary>The indentation of the list's first item, when it has one.</summary>
    private static int? FirstEntry(List<string> lines, int keyLine)
    {
        foreach (var line in lines.Skip(keyLine + 1))
        {
            if (line.TrimStart().StartsWith('-'))
            {
                return line.Length - line.TrimStart().Length;
            }
        }

        return null;
    }

    /// <summary>A line's text before a comment (a <c>#</c> after a space, outside quotes), for the value of the list's key.</summary>
    private static string WithoutComment(string text)
    {
        var quote = '\0';
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote != '\0')
            {
                quote = c == quote ? '\0' : quote;
            }
            else if (c is '"' or '\'')
            {
                quote = c;
            }
            else if (c == '#' && (i == 0 || char.IsWhiteSpace(text[i - 1])))
            {
                return text[..i];
            }
        }

        return text;
    }
}
