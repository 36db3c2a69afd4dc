using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Core.Yaml;

/// <summary>
/// Checks a <see cref="YamlNode"/> tree against the JSON Schemas in <c>schema/</c> (embedded), so that
/// the published schema and the loader accept exactly the same documents. Supports the subset of
/// JSON Schema 2020-12 the schemas use; a <c>oneOf</c> is a union discriminated by a <c>const</c> property.
/// </summary>
internal sealed class YamlSchemaValidator
{
    private static readonly ConcurrentDictionary<string, YamlSchemaValidator> Cache = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, Regex> Patterns = new(StringComparer.Ordinal);

    private readonly JsonElement _root;

    private readonly string _rootName;

    private YamlSchemaValidator(JsonElement root, string rootName)
    {
        _root = root;
        _rootName = rootName;
    }

    private string Display(string path) => path.Length == 0 ? _rootName : path;

    /// <summary>The validator for an embedded schema: <c>playbook.schema.json</c> or <c>runner.schema.json</c>.</summary>
    public static YamlSchemaValidator ForEmbedded(string name) => Cache.GetOrAdd(name, static n =>
    {
        using var stream = typeof(YamlSchemaValidator).Assembly.GetManifestResourceStream(n)
            ?? throw new InvalidOperationException($"Embedded schema {n} is missing");
        return new YamlSchemaValidator(JsonDocument.Parse(stream).RootElement.Clone(), n.StartsWith("runner", StringComparison.Ordinal) ? "runner.yaml" : "the playbook");
    });

    /// <summary>The raw schema, for tests and tooling.</summary>
    public JsonElement Schema => _root;

    /// <summary>Validates a document; returns true when no diagnostic was added.</summary>
    public bool Validate(YamlNode node, DiagnosticBag diagnostics)
    {
        var before = diagnostics.Items.Count;
        Check(_root, node, "", diagnostics);
        return diagnostics.Items.Count == before;
    }

    /// <summary>
    /// The largest part of an invalid document that is valid: the entries and list items that carry errors
    /// (reported by <see cref="Validate"/>) are left out, recursively, so that one broken source, channel,
    /// rule or action does not hide the checks of the others (validate reports every independent error in
    /// one pass). Null when even the pruned document is invalid (a required key is broken). Reports nothing.
    /// </summary>
    public YamlNode? Salvage(YamlNode node) => Salvage(_root, node);

    /// <summary>
    /// Definitions kept whole or left out whole: a source without one of its fields, or a channel without one of
    /// its settings, would be a different source or channel, and report errors of its own.
    /// </summary>
    private static readonly HashSet<string> Atomic = ["#/$defs/source", "#/$defs/sourceRef", "#/$defs/channel", "#/$defs/state"];

    private YamlNode? Salvage(JsonElement schema, YamlNode node)
    {
        var atomic = schema.TryGetProperty("$ref", out var reference) && Atomic.Contains(reference.GetString()!);
        schema = Resolve(schema);
        if (IsValid(schema, node))
        {
            return node;
        }

        if (atomic)
        {
            return null;
        }

        switch (node)
        {
            case YamlMapping mapping when schema.TryGetProperty("oneOf", out var branches):
                return SelectBranch(branches, mapping, "", new DiagnosticBag()) is { } selected ? Salvage(selected, mapping) : null;
            case YamlMapping mapping:
                var properties = schema.TryGetProperty("properties", out var p) ? p : default;
                var additional = schema.TryGetProperty("additionalProperties", out var a) ? a : default;
                var namePattern = schema.TryGetProperty("propertyNames", out var names) && names.TryGetProperty("pattern", out var np) ? np.GetString() : null;
                var kept = new List<KeyValuePair<YamlScalar, YamlNode>>();
                foreach (var (key, value) in mapping.Entries)
                {
                    JsonElement? sub = properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(key.Value, out var property) ? property
                        : (namePattern is null || PatternMatches(namePattern, key.Value)) && additional.ValueKind == JsonValueKind.Object ? additional
                        : null;
                    if (sub is { } subSchema && Salvage(subSchema, value) is { } pruned)
                    {
                        kept.Add(new(key, pruned));
                    }
                }

                var prunedMapping = mapping with { Entries = kept };
                return IsValid(schema, prunedMapping) ? prunedMapping : null;
            case YamlSequence sequence when schema.TryGetProperty("items", out var items):
                var prunedSequence = sequence with { Items = [.. sequence.Items.Select(i => Salvage(items, i)).OfType<YamlNode>()] };
                return IsValid(schema, prunedSequence) ? prunedSequence : null;
            default:
                return null;
        }
    }

    private bool IsValid(JsonElement schema, YamlNode node)
    {
        var scratch = new DiagnosticBag();
        Check(schema, node, "", scratch);
        return scratch.Items.Count == 0;
    }

    private JsonElement Resolve(JsonElement schema)
    {
        while (schema.TryGetProperty("$ref", out var reference))
        {
            var name = reference.GetString()!["#/$defs/".Length..];
            schema = _root.GetProperty("$defs").GetProperty(name);
        }

        return schema;
    }

    private void Check(JsonElement schema, YamlNode node, string path, DiagnosticBag diagnostics)
    {
        schema = Resolve(schema);
        if (!CheckType(schema, node, path, diagnostics))
        {
            return;
        }

        switch (node)
        {
            case YamlScalar scalar:
                CheckScalar(schema, scalar, path, diagnostics);
                break;
            case YamlSequence sequence:
                CheckSequence(schema, sequence, path, diagnostics);
                break;
            case YamlMapping mapping:
                CheckMapping(schema, mapping, path, diagnostics);
                break;
        }
    }

    private bool CheckType(JsonElement schema, YamlNode node, string path, DiagnosticBag diagnostics)
    {
        if (!schema.TryGetProperty("type", out var type))
        {
            return true;
        }

        var types = type.ValueKind == JsonValueKind.Array
            ? type.EnumerateArray().Select(t => t.GetString()!).ToArray()
            : [type.GetString()!];
        if (types.Any(t => Matches(t, node)))
        {
            return true;
        }

        diagnostics.Add(DiagnosticDescriptors.WrongType, node.Location,
            string.Join(" or ", types.Select(Describe)), Display(path), node.Describe());
        return false;
    }

    private static bool Matches(string type, YamlNode node) => type switch
    {
        "object" => node is YamlMapping,
        "array" => node is YamlSequence,
        "string" => node is YamlScalar { IsNull: false },
        "integer" => node is YamlScalar { IsInteger: true },
        "number" => node is YamlScalar { IsNumber: true },
        "boolean" => node is YamlScalar { IsBool: true },
        "null" => node is YamlScalar { IsNull: true },
        _ => false,
    };

    private static string Describe(string type) => type switch
    {
        "object" => "a mapping",
        "array" => "a list",
        "string" => "text",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "true or false",
        _ => type,
    };

    private void CheckScalar(JsonElement schema, YamlScalar scalar, string path, DiagnosticBag diagnostics)
    {
        if (schema.TryGetProperty("const", out var constant) && constant.ValueKind == JsonValueKind.String && scalar.Value != constant.GetString())
        {
            diagnostics.Add(DiagnosticDescriptors.NotInEnum, scalar.Location, scalar.Value, Display(path), constant.GetString());
            return;
        }

        if (schema.TryGetProperty("enum", out var values))
        {
            var allowed = values.EnumerateArray().Select(v => v.ToString()).ToArray();
            if (!allowed.Contains(scalar.Value, StringComparer.Ordinal))
            {
                diagnostics.Add(DiagnosticDescriptors.NotInEnum, scalar.Location, scalar.Value, Display(path), string.Join(", ", allowed) + Suggest(scalar.Value, allowed));
                return;
            }
        }

        if (schema.TryGetProperty("minLength", out var minLength) && scalar.Value.Trim().Length < minLength.GetInt32())
        {
            diagnostics.Add(DiagnosticDescriptors.TooShort, scalar.Location, Display(path));
            return;
        }

        if (schema.TryGetProperty("minimum", out var minimum) && scalar.IsNumber
            && double.Parse(scalar.Value, System.Globalization.CultureInfo.InvariantCulture) < minimum.GetDouble())
        {
            diagnostics.Add(DiagnosticDescriptors.PatternMismatch, scalar.Location, scalar.Value, Display(path), $"must be at least {minimum.GetRawText()}");
            return;
        }

        if (schema.TryGetProperty("maximum", out var maximum) && scalar.IsNumber
            && double.Parse(scalar.Value, System.Globalization.CultureInfo.InvariantCulture) > maximum.GetDouble())
        {
            diagnostics.Add(DiagnosticDescriptors.PatternMismatch, scalar.Location, scalar.Value, Display(path), $"must be at most {maximum.GetRawText()}");
            return;
        }

        if (schema.TryGetProperty("pattern", out var pattern) && !PatternMatches(pattern.GetString()!, scalar.Value))
        {
            var (descriptor, hint) = PatternHint(pattern.GetString()!);
            if (descriptor == DiagnosticDescriptors.BadDuration)
            {
                diagnostics.Add(descriptor, scalar.Location, scalar.Value);
            }
            else
            {
                diagnostics.Add(descriptor, scalar.Location, scalar.Value, Display(path), hint);
            }
        }
    }

    /// <summary>Whole-string match: a trailing newline never slips past <c>$</c>.</summary>
    internal static bool PatternMatches(string pattern, string value)
    {
        var regex = Patterns.GetOrAdd(pattern, p => new Regex(p, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)));
        var match = regex.Match(value);
        return match.Success && match.Index == 0 && match.Length == value.Length;
    }

    private static (DiagnosticDescriptor Descriptor, string Hint) PatternHint(string pattern)
    {
        if (pattern.StartsWith("^([0-9]+(h|d|w|mo|y)", StringComparison.Ordinal))
        {
            return (DiagnosticDescriptors.BadDuration, "");
        }

        if (pattern.StartsWith("^(string|int", StringComparison.Ordinal))
        {
            return (DiagnosticDescriptors.PatternMismatch, "use string, int, long, decimal, double, bool, date, datetime or string[], with '?' to allow a missing value");
        }

        if (pattern == "^[A-Za-z_][A-Za-z0-9_]*$")
        {
            return (DiagnosticDescriptors.PatternMismatch, "use a C# identifier (letters, digits and '_', not starting with a digit)");
        }

        if (pattern.StartsWith("^[a-z0-9][a-z0-9-]*", StringComparison.Ordinal))
        {
            return (DiagnosticDescriptors.PatternMismatch, "use lowercase letters, digits and '-', starting with a letter or digit");
        }

        return (DiagnosticDescriptors.PatternMismatch, $"must match {pattern}");
    }

    private void CheckSequence(JsonElement schema, YamlSequence sequence, string path, DiagnosticBag diagnostics)
    {
        if (schema.TryGetProperty("minItems", out var minItems) && sequence.Items.Count < minItems.GetInt32())
        {
            diagnostics.Add(DiagnosticDescriptors.TooFewItems, sequence.Location, Display(path), minItems.GetInt32());
        }

        if (schema.TryGetProperty("items", out var items))
        {
            for (var i = 0; i < sequence.Items.Count; i++)
            {
                Check(items, sequence.Items[i], $"{path}[{i}]", diagnostics);
            }
        }
    }

    private void CheckMapping(JsonElement schema, YamlMapping mapping, string path, DiagnosticBag diagnostics)
    {
        if (schema.TryGetProperty("oneOf", out var branches))
        {
            var branch = SelectBranch(branches, mapping, path, diagnostics);
            if (branch is { } selected)
            {
                Check(selected, mapping, path, diagnostics);
            }

            return;
        }

        var properties = schema.TryGetProperty("properties", out var p) ? p : default;
        if (schema.TryGetProperty("required", out var required))
        {
            foreach (var name in required.EnumerateArray().Select(r => r.GetString()!))
            {
                if (mapping[name] is null)
                {
                    diagnostics.Add(DiagnosticDescriptors.MissingKey, mapping.Location with { EndLine = mapping.Location.Line, EndColumn = mapping.Location.Column + 1 }, name, Display(path));
                }
            }
        }

        var additional = schema.TryGetProperty("additionalProperties", out var a) ? a : default;
        var namePattern = schema.TryGetProperty("propertyNames", out var names) && names.TryGetProperty("pattern", out var np) ? np.GetString() : null;
        foreach (var (key, value) in mapping.Entries)
        {
            var childPath = ChildPath(path, key.Value);
            if (properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(key.Value, out var propertySchema))
            {
                Check(propertySchema, value, childPath, diagnostics);
                continue;
            }

            if (namePattern is not null && !PatternMatches(namePattern, key.Value))
            {
                diagnostics.Add(DiagnosticDescriptors.PatternMismatch, key.Location, key.Value, $"name in {Display(path)}", PatternHint(namePattern).Hint);
                continue;
            }

            if (additional.ValueKind == JsonValueKind.False)
            {
                var known = properties.ValueKind == JsonValueKind.Object ? properties.EnumerateObject().Select(x => x.Name) : [];
                diagnostics.Add(DiagnosticDescriptors.UnknownKey, key.Location, key.Value, Display(path), Suggest(key.Value, known));
                continue;
            }

            if (additional.ValueKind == JsonValueKind.Object)
            {
                Check(additional, value, childPath, diagnostics);
            }
        }
    }

    private JsonElement? SelectBranch(JsonElement branches, YamlMapping mapping, string path, DiagnosticBag diagnostics)
    {
        JsonElement? fallback = null;
        string? discriminator = null;
        var options = new List<string>();
        foreach (var branch in branches.EnumerateArray())
        {
            var found = false;
            if (branch.TryGetProperty("properties", out var props))
            {
                foreach (var prop in props.EnumerateObject())
                {
                    if (prop.Value.TryGetProperty("const", out var constant))
                    {
                        discriminator = prop.Name;
                        options.Add(constant.GetString()!);
                        found = true;
                        if (mapping.Text(prop.Name) == constant.GetString())
                        {
                            return branch;
                        }
                    }
                }
            }

            if (!found)
            {
                fallback = branch;
            }
        }

        if (discriminator is not null && mapping[discriminator] is null)
        {
            diagnostics.Add(DiagnosticDescriptors.MissingKey, mapping.Location with { EndLine = mapping.Location.Line, EndColumn = mapping.Location.Column + 1 }, discriminator, Display(path));
            return null;
        }

        if (fallback is null && discriminator is not null)
        {
            var node = mapping[discriminator]!;
            diagnostics.Add(DiagnosticDescriptors.NotInEnum, node.Location, mapping.Text(discriminator) ?? "", ChildPath(path, discriminator), string.Join(", ", options) + Suggest(mapping.Text(discriminator) ?? "", options));
        }

        return fallback;
    }

    private static string ChildPath(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

    /// <summary>"; did you mean 'when'?" when a known key is one or two edits away.</summary>
    internal static string Suggest(string key, IEnumerable<string> known)
    {
        var best = known
            .Select(k => (Key: k, Distance: EditDistance(key.ToLowerInvariant(), k.ToLowerInvariant())))
            .Where(x => x.Distance <= Math.Max(1, Math.Min(2, x.Key.Length / 3)))
            .OrderBy(x => x.Distance)
            .ThenBy(x => x.Key, StringComparer.Ordinal)
            .FirstOrDefault();
        return best.Key is null ? "" : $"; did you mean '{best.Key}'?";
    }

    /// <summary>Edit distance where swapping two neighbouring letters counts once ('titel' is one edit from 'title').</summary>
    private static int EditDistance(string a, string b)
    {
        if (Math.Abs(a.Length - b.Length) > 2)
        {
            return int.MaxValue; // never a suggestion, and no quadratic work on a long hostile value
        }

        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
