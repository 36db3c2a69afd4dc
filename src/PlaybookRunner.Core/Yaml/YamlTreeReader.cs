using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Model;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace PlaybookRunner.Core.Yaml;

/// <summary>
/// Reads one YAML document into a <see cref="YamlNode"/> tree with locations, guarding size,
/// nesting depth and alias use. Never throws on bad input: problems become diagnostics.
/// </summary>
internal sealed class YamlTreeReader
{
    public const int MaxFileBytes = 1024 * 1024;
    public const int MaxDepth = 64;
    public const int MaxAliases = 100;
    public const int MaxExpandedNodes = 100_000;

    private readonly string _path;
    private readonly string[] _lines;
    private readonly DiagnosticBag _diagnostics;
    private readonly Dictionary<string, YamlNode> _anchors = new(StringComparer.Ordinal);
    private readonly Dictionary<YamlNode, long> _expandedSize = new(ReferenceEqualityComparer.Instance);
    private int _aliases;

    private YamlTreeReader(string path, string text, DiagnosticBag diagnostics)
    {
        _path = path;
        _lines = text.Split('\n');
        _diagnostics = diagnostics;
    }

    /// <summary>
    /// Reads a file; returns null (with diagnostics) when it is unreadable or malformed. The bytes read are
    /// added to <paramref name="read"/> when given (the daemon hands them to its evaluation worker).
    /// </summary>
    public static YamlNode? ReadFile(string path, DiagnosticBag diagnostics, IDictionary<string, byte[]>? read = null)
    {
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is not null)
            {
                // runner.yaml, suppressions.yaml or a test file linked to /dev/zero, a pipe or a file outside.
                diagnostics.Add(DiagnosticDescriptors.LinkNotFollowed, SourceLocation.At(path, 1, 1), path);
                return null;
            }

            if (info.Length > MaxFileBytes)
            {
                diagnostics.Add(DiagnosticDescriptors.InputLimit, SourceLocation.At(path, 1, 1),
                    $"File is {info.Length} bytes; the limit is {MaxFileBytes} bytes");
                return null;
            }

            // Read at most one byte past the limit, whatever the length says: a link to a device
            // (/dev/zero) reports no length and would never end.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
            var buffer = new byte[MaxFileBytes + 1];
            var total = 0;
            int count;
            while (total < buffer.Length && (count = stream.Read(buffer, total, buffer.Length - total)) > 0)
            {
                total += count;
            }

            if (total > MaxFileBytes)
            {
                diagnostics.Add(DiagnosticDescriptors.InputLimit, SourceLocation.At(path, 1, 1),
                    $"File is more than {MaxFileBytes} bytes; the limit is {MaxFileBytes} bytes");
                return null;
            }

            bytes = buffer[..total];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            diagnostics.Add(DiagnosticDescriptors.FileRead, SourceLocation.At(path, 1, 1), path, ex.Message);
            return null;
        }

        if (read is not null)
        {
            read[path] = bytes;
        }

        return ReadBytes(path, bytes, diagnostics);
    }

    /// <summary>Reads the bytes of a YAML file that came from <paramref name="path"/>: UTF-8, an optional BOM.</summary>
    public static YamlNode? ReadBytes(string path, byte[] bytes, DiagnosticBag diagnostics)
    {
        if (bytes.Length > MaxFileBytes)
        {
            diagnostics.Add(DiagnosticDescriptors.InputLimit, SourceLocation.At(path, 1, 1),
                $"File is {bytes.Length} bytes; the limit is {MaxFileBytes} bytes");
            return null;
        }

        string text;
        try
        {
            text = new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
            if (text.Length > 0 && text[0] == '\uFEFF')
            {
                text = text[1..];
            }
        }
        catch (System.Text.DecoderFallbackException ex)
        {
            var (line, column) = PositionOfByte(bytes, ex.Index);
            diagnostics.Add(DiagnosticDescriptors.YamlSyntax, SourceLocation.At(path, line, column), "File is not valid UTF-8");
            return null;
        }

        return Read(path, text, diagnostics);
    }

    /// <summary>Reads YAML text that came from <paramref name="path"/>.</summary>
    public static YamlNode? Read(string path, string text, DiagnosticBag diagnostics)
    {
        if (text.Length > MaxFileBytes)
        {
            diagnostics.Add(DiagnosticDescriptors.InputLimit, SourceLocation.At(path, 1, 1),
                $"File has {text.Length} characters; the limit is {MaxFileBytes}");
            return null;
        }

        return new YamlTreeReader(path, text.Replace("\r\n", "\n", StringComparison.Ordinal), diagnostics).ReadDocument(text);
    }

    private static (int Line, int Column) PositionOfByte(byte[] bytes, int index)
    {
        int line = 1, column = 1;
        for (var i = 0; i < index && i < bytes.Length; i++)
        {
            if (bytes[i] == '\n')
            {
                line++;
                column = 1;
            }
            else if ((bytes[i] & 0xC0) != 0x80)
            {
                column++;
            }
        }

        return (line, column);
    }

    private YamlNode? ReadDocument(string text)
    {
        var parser = new Parser(new StringReader(text));
        try
        {
            parser.Consume<StreamStart>();
            if (parser.Accept<StreamEnd>(out _))
            {
                _diagnostics.Add(DiagnosticDescriptors.EmptyDocument, SourceLocation.At(_path, 1, 1), "File is empty");
                return null;
            }

            parser.Consume<DocumentStart>();
            var root = ReadNode(parser, 1);
            if (root is null)
            {
                return null;
            }

            parser.Consume<DocumentEnd>();
            if (!parser.Accept<StreamEnd>(out _))
            {
                var start = parser.Current!.Start;
                _diagnostics.Add(DiagnosticDescriptors.EmptyDocument, SourceLocation.At(_path, (int)start.Line, (int)start.Column),
                    "File holds more than one YAML document; a playbook file holds exactly one");
                return null;
            }

            if (root is YamlScalar { IsNull: true })
            {
                _diagnostics.Add(DiagnosticDescriptors.EmptyDocument, SourceLocation.At(_path, 1, 1), "File is empty");
                return null;
            }

            return root;
        }
        catch (YamlException ex)
        {
            var message = ex.InnerException?.Message ?? ex.Message;
            var at = message.IndexOf("): ", StringComparison.Ordinal);
            if (message.StartsWith('(') && at > 0)
            {
                message = message[(at + 3)..];
            }

            if (message.Contains("invalid mapping", StringComparison.Ordinal) || message.Contains("Mapping values are not allowed", StringComparison.OrdinalIgnoreCase))
            {
                // The usual cause: an unquoted value with ': ' in it (a title with a colon, a C# ternary).
                message = message.TrimEnd('.') + "; a value that contains ': ' must be quoted, e.g. title: \"Call: today\" or when: 'x > 3 ? a : b'";
            }

            _diagnostics.Add(DiagnosticDescriptors.YamlSyntax, SourceLocation.At(_path, Math.Max(1, (int)ex.Start.Line), Math.Max(1, (int)ex.Start.Column)),
                message.TrimEnd('.'));
            return null;
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            // YamlDotNet's scanner can fail this way on some malformed input (found by the fuzz tests):
            // report it as a syntax error where the parser last was, never as a crash.
            var mark = parser.Current?.End ?? Mark.Empty;
            _diagnostics.Add(DiagnosticDescriptors.YamlSyntax, SourceLocation.At(_path, Math.Max(1, (int)mark.Line), Math.Max(1, (int)mark.Column)),
                "The YAML is malformed after this point and could not be read");
            return null;
        }
    }

    private SourceLocation Span(ParsingEvent start, ParsingEvent end) =>
        new(_path, (int)start.Start.Line, (int)start.Start.Column, (int)end.End.Line, (int)end.End.Column);

    private YamlNode? ReadNode(IParser parser, int depth)
    {
        if (depth > MaxDepth)
        {
            var at = parser.Current!.Start;
            _diagnostics.Add(DiagnosticDescriptors.InputLimit, SourceLocation.At(_path, (int)at.Line, (int)at.Column),
                $"Nesting is deeper than {MaxDepth} levels");
            return null;
        }

        if (parser.TryConsume<AnchorAlias>(out var alias))
        {
            var location = Span(alias, alias);
            if (++_aliases > MaxAliases)
            {
                _diagnostics.Add(DiagnosticDescriptors.InputLimit, location, $"More than {MaxAliases} aliases");
                return null;
            }

            if (!_anchors.TryGetValue(alias.Value.Value, out var target))
            {
                _diagnostics.Add(DiagnosticDescriptors.YamlSyntax, location, $"Alias '*{alias.Value.Value}' refers to no anchor defined before it");
                return null;
            }

            return target;
        }

        YamlNode? node;
        string? anchor = null;
        if (parser.TryConsume<Scalar>(out var scalar))
        {
            anchor = scalar.Anchor.IsEmpty ? null : scalar.Anchor.Value;
            node = new YamlScalar(scalar.Value, scalar.Style == ScalarStyle.Plain, Span(scalar, scalar), ContentLinesOf(scalar));
        }
        else if (parser.TryConsume<SequenceStart>(out var sequenceStart))
        {
            anchor = sequenceStart.Anchor.IsEmpty ? null : sequenceStart.Anchor.Value;
            var items = new List<YamlNode>();
            while (!parser.Accept<SequenceEnd>(out _))
            {
                var item = ReadNode(parser, depth + 1);
                if (item is null)
                {
                    return null;
                }

                items.Add(item);
            }

            var end = parser.Consume<SequenceEnd>();
            node = new YamlSequence(items, Span(sequenceStart, end));
        }
        else if (parser.TryConsume<MappingStart>(out var mappingStart))
        {
            anchor = mappingStart.Anchor.IsEmpty ? null : mappingStart.Anchor.Value;
            var entries = new List<KeyValuePair<YamlScalar, YamlNode>>();
            var seen = new Dictionary<string, int>(StringComparer.Ordinal);
            while (!parser.Accept<MappingEnd>(out _))
            {
                var keyNode = ReadNode(parser, depth + 1);
                if (keyNode is null)
                {
                    return null;
                }

                var value = ReadNode(parser, depth + 1);
                if (value is null)
                {
                    return null;
                }

                if (keyNode is not YamlScalar key)
                {
                    _diagnostics.Add(DiagnosticDescriptors.WrongType, keyNode.Location, "text", "a mapping key", keyNode.Describe());
                    continue;
                }

                if (key.IsPlain && key.Value == "<<")
                {
                    _diagnostics.Add(DiagnosticDescriptors.UnknownKey, key.Location, "<<", "a mapping", ": merge keys are not supported");
                    continue;
                }

                if (seen.TryGetValue(key.Value, out var firstLine))
                {
                    _diagnostics.Add(DiagnosticDescriptors.DuplicateKey, key.Location, key.Value, firstLine);
                    continue;
                }

                seen[key.Value] = key.Location.Line;
                entries.Add(new(key, value));
            }

            var end = parser.Consume<MappingEnd>();
            node = new YamlMapping(entries, Span(mappingStart, end));
        }
        else
        {
            var current = parser.Current!;
            throw new YamlException(current.Start, current.End, $"Unexpected {current.GetType().Name}");
        }

        if (ExpandedSize(node) > MaxExpandedNodes)
        {
            _diagnostics.Add(DiagnosticDescriptors.InputLimit, node.Location,
                $"Aliases expand this document to more than {MaxExpandedNodes} nodes");
            return null;
        }

        if (anchor is not null)
        {
            _anchors[anchor] = node;
        }

        return node;
    }

    private long ExpandedSize(YamlNode node)
    {
        if (_expandedSize.TryGetValue(node, out var size))
        {
            return size;
        }

        size = node switch
        {
            YamlSequence s => 1 + s.Items.Sum(ExpandedSize),
            YamlMapping m => 1 + m.Entries.Sum(e => 1 + ExpandedSize(e.Value)),
            _ => 1,
        };
        size = Math.Min(size, MaxExpandedNodes + 1L);
        _expandedSize[node] = size;
        return size;
    }

    private List<LineStart> ContentLinesOf(Scalar scalar)
    {
        var line = (int)scalar.Start.Line;
        var column = (int)scalar.Start.Column;
        switch (scalar.Style)
        {
            case ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted:
                return [new(line, column + 1)];
            case ScalarStyle.Literal or ScalarStyle.Folded:
                var result = new List<LineStart>();
                var indent = -1;
                for (var i = line; i < _lines.Length && i < scalar.End.Line; i++)
                {
                    var text = _lines[i];
                    if (indent < 0 && text.Trim().Length > 0)
                    {
                        indent = text.Length - text.TrimStart(' ').Length;
                    }

                    result.Add(new(i + 1, Math.Max(indent, 0) + 1));
                }

                return result;
            default:
                return [new(line, column)];
        }
    }
}
