using System.Globalization;
using System.Text;
using System.Text.Json;
using PlaybookRunner.Abstractions;
using PlaybookRunner.Core.Model;
using Sylvan.Data.Csv;

namespace PlaybookRunner.Core.Sources;

/// <summary>
/// <c>playbook sources describe</c>: the fields a source declares, and for csv and jsonl the fields
/// inferred from a sample of the data, written as YAML ready to paste into <c>fields:</c>.
/// </summary>
internal static class SourceDescriber
{
    public const int SampleSize = 1000;

    public static string Describe(SourceDefinition source, int sampleSize = SampleSize)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"Source {source.Name}: kind {source.Kind}, key {source.Key}");
        if (source.Option("path") is { } path)
        {
            text.Append(CultureInfo.InvariantCulture, $", path {path}");
        }

        text.Append(source.Fields.Count == 0 ? "\n\nDeclared fields: none yet (paste the inferred ones below under the source in runner.yaml)\n" : "\n\nDeclared fields:\n");
        var width = source.Fields.Count == 0 ? 0 : source.Fields.Max(f => f.Name.Length);
        foreach (var field in source.Fields)
        {
            var line = $"  {field.Name.PadRight(width)}  {field.Type,-10}" + (field.Column != field.Name ? $"  column {field.Column}" : "");
            text.Append(line.TrimEnd()).Append('\n');
        }

        var sample = source.Kind switch
        {
            "csv" => SampleCsv(source, sampleSize),
            "jsonl" => SampleJsonl(source, sampleSize),
            _ => null,
        };
        if (sample is null)
        {
            return text.ToString();
        }

        text.Append(CultureInfo.InvariantCulture, $"\nInferred from the first {sample.Rows} record(s):\nfields:\n");
        foreach (var (column, values) in sample.Columns)
        {
            var type = Infer(values);
            var name = Identifier(column);
            text.Append("  ").Append(name).Append(": ");
            // In a flow mapping '[' would open a list, so the type is quoted there.
            var flowType = type.Contains('[', StringComparison.Ordinal) ? $"\"{type}\"" : type;
            text.Append(name == column ? type : $"{{ type: {flowType}, column: {Quote(column)} }}").Append('\n');
        }

        return text.ToString();
    }

    private sealed record Sample(int Rows, List<(string Column, List<string?> Values)> Columns);

    private static Sample? SampleCsv(SourceDefinition source, int size)
    {
        var path = source.FullPath;
        if (path is null || !File.Exists(path))
        {
            return null;
        }

        var delimiter = source.Option("delimiter") is { Length: > 0 } d ? d[0] : ',';
        using var csv = CsvDataReader.Create(path, new CsvDataReaderOptions { HasHeaders = true, Delimiter = delimiter });
        var columns = Enumerable.Range(0, csv.FieldCount).Select(i => (csv.GetName(i), new List<string?>())).ToList();
        var rows = 0;
        while (rows < size && csv.Read())
        {
            rows++;
            for (var i = 0; i < columns.Count; i++)
            {
                columns[i].Item2.Add(i < csv.RowFieldCount ? csv.GetString(i) : null);
            }
        }

        return new Sample(rows, columns);
    }

    private static Sample? SampleJsonl(SourceDefinition source, int size)
    {
        var path = source.FullPath;
        if (path is null || !File.Exists(path))
        {
            return null;
        }

        var columns = new List<(string Column, List<string?> Values)>();
        var rows = 0;
        foreach (var line in File.ReadLines(path).Where(l => !string.IsNullOrWhiteSpace(l)).Take(size))
        {
            JsonElement root;
            try
            {
                root = JsonDocument.Parse(line).RootElement;
            }
            catch (JsonException)
            {
                continue;
            }

            if (root.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            foreach (var property in root.EnumerateObject())
            {
                var index = columns.FindIndex(c => c.Column == property.Name);
                if (index < 0)
                {
                    columns.Add((property.Name, [.. Enumerable.Repeat<string?>(null, rows)]));
                    index = columns.Count - 1;
                }

                columns[index].Values.Add(property.Value.ValueKind switch
                {
                    JsonValueKind.Null => null,
                    JsonValueKind.String => property.Value.GetString(),
                    JsonValueKind.Array => "[]" + property.Value.GetRawText(),
                    _ => property.Value.GetRawText(),
                });
            }

            rows++;
            foreach (var column in columns.Where(c => c.Values.Count < rows))
            {
                column.Values.Add(null);
            }
        }

        return new Sample(rows, columns);
    }

    /// <summary>The narrowest declared type every non-blank value parses as; <c>?</c> when any is blank.</summary>
    internal static string Infer(IReadOnlyList<string?> values)
    {
        var present = values.Where(v => !string.IsNullOrWhiteSpace(v)).Select(v => v!.Trim()).ToList();
        var nullable = present.Count < values.Count ? "?" : "";
        if (present.Count == 0)
        {
            return "string?";
        }

        if (present.All(v => v.StartsWith("[]", StringComparison.Ordinal)))
        {
            return "string[]" + nullable;
        }

        string[] candidates = ["bool", "int", "long", "decimal", "date", "datetime"];
        foreach (var candidate in candidates)
        {
            FieldType.TryParse(candidate, out var type);
            if (candidate == "bool" && present.Any(v => v is "0" or "1"))
            {
                continue;
            }

            if (present.All(v => FieldParser.TryParse(v, type!.Value, TimeZoneInfo.Utc, out _, out _)))
            {
                return candidate + nullable;
            }
        }

        // Text with ';' in it is most likely a list (string[] reads ';'-separated items).
        return (present.Any(v => v.Contains(';', StringComparison.Ordinal)) ? "string[]" : "string") + nullable;
    }

    /// <summary>A C# identifier for a column name: snake_case, letters, digits and '_'.</summary>
    internal static string Identifier(string column)
    {
        var text = new StringBuilder();
        for (var i = 0; i < column.Length; i++)
        {
            var c = column[i];
            if (char.IsUpper(c) && i > 0 && (char.IsLower(column[i - 1]) || (i + 1 < column.Length && char.IsLower(column[i + 1]) && char.IsUpper(column[i - 1]))))
            {
                text.Append('_');
            }

            text.Append(char.IsLetterOrDigit(c) ? char.ToLowerInvariant(c) : '_');
        }

        var result = text.ToString().Trim('_');
        while (result.Contains("__", StringComparison.Ordinal))
        {
            result = result.Replace("__", "_", StringComparison.Ordinal);
        }

        return result.Length == 0 || char.IsDigit(result[0]) ? "f_" + result : result;
    }

    private static string Quote(string text) => text.All(c => char.IsLetterOrDigit(c) || c is '_' or '-' or '.') ? text : $"\"{text.Replace("\"", "\\\"", StringComparison.Ordinal)}\"";
}
