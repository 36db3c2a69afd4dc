using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Yaml;

/// <summary>A YAML node with the span it came from. Aliases are shared nodes, never copies.</summary>
internal abstract record YamlNode(SourceLocation Location)
{
    /// <summary>A word for messages: "a mapping", "a list", "text".</summary>
    public abstract string Describe();
}


internal sealed partial record YamlScalar(
    string Value,
    bool IsPlain,
    SourceLocation Location,
    IReadOnlyList<LineStart> ContentLines) : YamlNode(Location)
{
    public bool IsNull => IsPlain && Value is "" or "~" or "null" or "Null" or "NULL";

    public bool IsBool => IsPlain && Value is "true" or "True" or "TRUE" or "false" or "False" or "FALSE";

    public bool IsInteger => IsPlain && IntegerPattern().IsMatch(Value);

    public bool IsNumber => IsInteger || (IsPlain && NumberPattern().IsMatch(Value));

    // Source-generated: no pattern is parsed at start-up.
    [System.Text.RegularExpressions.GeneratedRegex("^[-+]?[0-9]+$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex IntegerPattern();

    [System.Text.RegularExpressions.GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex NumberPattern();

    public bool AsBool => Value is "true" or "True" or "TRUE";

    /// <summary>
    /// Maps a 0-based (line, column) inside <see cref="Value"/> to the file. Exact for single-line
    /// scalars and literal blocks; folded text maps to the line where its first part starts.
    /// </summary>
    public (int Line, int Column) MapPosition(int valueLine, int valueColumn)
    {
        if (ContentLines.Count == 0)
        {
            return (Location.Line, Location.Column);
        }

        var start = ContentLines[Math.Clamp(valueLine, 0, ContentLines.Count - 1)];
        return (start.Line, start.Column + valueColumn);
    }

    public override string Describe() => IsNull ? "null" : IsBool ? "a boolean" : IsNumber ? "a number" : "text";
}

internal sealed record YamlSequence(IReadOnlyList<YamlNode> Items, SourceLocation Location) : YamlNode(Location)
{
    public override string Describe() => "a list";
}

internal sealed record YamlMapping(IReadOnlyList<KeyValuePair<YamlScalar, YamlNode>> Entries, SourceLocation Location) : YamlNode(Location)
{
    public YamlNode? this[string key]
    {
        get
        {
            foreach (var entry in Entries)
            {
                if (entry.Key.Value == key)
                {
                    return entry.Value;
                }
            }

            return null;
        }
    }

    public YamlScalar? KeyNode(string key) => Entries.FirstOrDefault(e => e.Key.Value == key).Key;

    public string? Text(string key) => this[key] is YamlScalar { IsNull: false } s ? s.Value : null;

    public override string Describe() => "a mapping";
}
