using System.Runtime.CompilerServices;
using System.Text.Json;
using PlaybookRunner.Abstractions;

namespace PlaybookRunner.Core.Sources;

/// <summary>
/// The built-in <c>jsonl</c> source: one JSON object per line; properties are columns. Numbers come
/// through as long or decimal, arrays of strings as lists, nested objects are not values.
/// </summary>
internal sealed class JsonlSourcePlugin : ISourcePlugin
{
    public string Kind => "jsonl";

    public IReadOnlyList<OptionProblem> ValidateOptions(SourceOptions options) =>
        options.Get("path") is null ? [new("path", "jsonl sources need a path")] : [];

    public async IAsyncEnumerable<SourceRecord> ReadAsync(SourceOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(Path.Combine(options.BaseDirectory, options.Get("path")!));
        if (!File.Exists(path))
        {
            throw new SourceReadException($"Data file '{options.Get("path")}' was not found");
        }

        using var reader = new StreamReader(path, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        var line = 0;
        while (await reader.ReadLineAsync(cancellationToken) is { } text)
        {
            line++;
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            Dictionary<string, object?> values;
            try
            {
                using var document = JsonDocument.Parse(text);
                values = new Dictionary<string, object?>(StringComparer.Ordinal);
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    values[MalformedKey] = $"expected a JSON object, found {document.RootElement.ValueKind.ToString().ToLowerInvariant()}";
                }
                else
                {
                    foreach (var property in document.RootElement.EnumerateObject())
                    {
                        values[property.Name] = ToRaw(property.Value);
                    }
                }
            }
            catch (JsonException ex)
            {
                // The host applies on_bad_row to it like to a bad value: fail, or skip and report.
                values = new Dictionary<string, object?>(StringComparer.Ordinal) { [MalformedKey] = $"not valid JSON: {ex.Message.Split(" LineNumber", 2)[0].TrimEnd('.')}" };
            }

            yield return new SourceRecord(values, $"line {line}") { Line = line };
        }
    }

    /// <summary>The value key under which a line that is not a JSON object carries what is wrong with it (not a valid JSON name from a file).</summary>
    public const string MalformedKey = "\u0000malformed";

    /// <summary>A JSON value as a raw source value.</summary>
    public static object? ToRaw(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.String => value.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Number => value.TryGetInt64(out var l) ? l : value.TryGetDecimal(out var d) ? d : value.GetDouble(),
        JsonValueKind.Array => value.EnumerateArray().Select(ToRaw).ToList(),
        _ => value.GetRawText(),
    };
}
