using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Evaluation;
using PlaybookRunner.Core.Model;
using Sylvan.Data.Csv;

namespace PlaybookRunner.Core.Sources;

/// <summary>
/// The built-in csv source (Sylvan.Data.Csv): a header row, declared fields read by name (or
/// <c>column:</c>), typed by <see cref="FieldParser"/>. Rows stream; a bad row stops the read with its
/// location, or with <c>on_bad_row: skip</c> is reported and skipped.
/// </summary>
/// <summary>Where typed csv reading puts its records: how to read one, and what to do with it.</summary>
internal sealed record TypedRows(Func<CsvRecordReader, GeneratedRecord> Read, Action<GeneratedRecord> OnRecord);

internal static class CsvSource
{
    /// <param name="source">The csv source.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    /// <param name="onRow">When given, each good row goes here as it is read and none are kept.</param>
    /// <param name="only">
    /// When given, only these fields are converted (the others stay null) and keys are not checked:
    /// a first pass that needs a few columns. Row shape is still checked.
    /// </param>
    /// <param name="typed">
    /// When given, each row is read straight into a record of the generated class (no boxed values)
    /// and handed to <see cref="TypedRows.OnRecord"/>; <paramref name="onRow"/> and <paramref name="only"/> are not used.
    /// </param>
    public static SourceReadResult Read(SourceDefinition source, CancellationToken cancellationToken, Action<SourceRow>? onRow = null, bool[]? only = null, TypedRows? typed = null)
    {
        var diagnostics = new List<Diagnostic>();
        var rows = new List<SourceRow>();
        var path = source.FullPath!;
        if (!File.Exists(path))
        {
            diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.DataFileMissing, source.Location, source.Option("path"), source.Name));
            return new SourceReadResult(rows, diagnostics, true);
        }

        var delimiter = source.Option("delimiter") is { Length: > 0 } d ? d[0] : ',';
        var zone = source.TimeZone;
        var display = DisplayPath(path);
        try
        {
            using var reader = OpenText(path);
            using var csv = Open(reader, delimiter);
            var ordinals = new int[source.Fields.Count];
            for (var i = 0; i < source.Fields.Count; i++)
            {
                var field = source.Fields[i];
                ordinals[i] = FindColumn(csv, field.Column);
                if (ordinals[i] < 0)
                {
                    diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.MissingColumn, field.Location, field.Column, field.Name, display));
                }
            }

            if (diagnostics.Count > 0)
            {
                return new SourceReadResult(rows, diagnostics, true);
            }

            var keyIndex = source.Fields.ToList().FindIndex(f => f.Name == source.Key);
            var fromSpan = source.Fields.Select(f => FieldParser.ParsesFromSpan(f.Type.Kind)).ToArray();
            var records = typed is null ? null : new CsvRecordReader(csv, ordinals, [.. source.Fields.Select(f => f.Type)], zone);
            // 64-bit hashes of the keys seen: a fraction of the memory of the keys themselves. A repeated
            // hash is confirmed by reading the earlier rows again, so a collision is never reported.
            var seen = new KeyHashSet();
            var row = 1;
            var line = 2;
            while (csv.Read())
            {
                cancellationToken.ThrowIfCancellationRequested();
                row++;
                var rowLine = line;
                line += 1 + csv.GetRawRecordSpan().TrimEnd("\r\n").Count('\n');
                if (csv.RowFieldCount == 1 && csv.GetRawRecordSpan().Trim().IsEmpty)
                {
                    // An empty line (typically the last one) holds no record.
                    continue;
                }

                if (csv.RowFieldCount != csv.FieldCount)
                {
                    // A ragged row shifts values between columns: never read it silently.
                    var skip = source.OnBadRow == BadRowPolicy.Skip;
                    var message = DiagnosticDescriptors.RaggedRow.Format([row, csv.RowFieldCount, csv.FieldCount, skip ? "; skipped" : ""]);
                    diagnostics.Add(new Diagnostic(DiagnosticDescriptors.RaggedRow, SourceLocation.At(path, rowLine, Math.Min(csv.RowFieldCount, csv.FieldCount) + 1),
                        skip ? DiagnosticSeverity.Warning : DiagnosticSeverity.Error, message));
                    if (!skip)
                    {
                        return new SourceReadResult(rows, diagnostics, true);
                    }

                    continue;
                }

                GeneratedRecord? record = null;
                object?[]? values = null;
                var badField = -1;
                if (typed is not null)
                {
                    records!.Reset();
                    record = typed.Read(records);
                    badField = records.FailedField;
                }
                else
                {
                    values = new object?[source.Fields.Count];
                    for (var i = 0; i < source.Fields.Count && badField < 0; i++)
                    {
                        if ((only is not null && !only[i])
                            || (fromSpan[i] && FieldParser.TryParseNumberOrDate(csv.GetFieldSpan(ordinals[i]), source.Fields[i].Type, out values[i])))
                        {
                            continue;
                        }

                        if (!FieldParser.TryParse(csv.GetString(ordinals[i]), source.Fields[i].Type, zone, out values[i], out _))
                        {
                            badField = i;
                        }
                    }
                }

                if (badField >= 0)
                {
                    // The message comes from the general parser, whichever path found the value bad.
                    var field = source.Fields[badField];
                    var ordinal = ordinals[badField];
                    FieldParser.TryParse(csv.GetString(ordinal), field.Type, zone, out _, out var problem);
                    var descriptor = source.OnBadRow == BadRowPolicy.Skip ? DiagnosticDescriptors.SkippedRow : DiagnosticDescriptors.BadRow;
                    diagnostics.Add(Diagnostic.Create(descriptor, SourceLocation.At(path, rowLine, ordinal + 1), row, ordinal + 1, field.Column, field.Name, field.Type, problem));
                    if (source.OnBadRow == BadRowPolicy.Fail)
                    {
                        return new SourceReadResult(rows, diagnostics, true);
                    }

                    continue;
                }

                var key = record?.Key ?? (only is null ? Evaluation.RecordKeys.FormatAny(values![keyIndex]) : null);
                if (key is not null && !seen.Add(Hash(key)) && FirstRowWithKey(source, ordinals[keyIndex], key, row) is { } firstRow)
                {
                    diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.DuplicateRecordKey, SourceLocation.At(path, rowLine, ordinals[keyIndex] + 1), $"Row {row}", key, $"row {firstRow}"));
                    return new SourceReadResult(rows, diagnostics, true);
                }

                if (record is not null)
                {
                    typed!.OnRecord(record);
                }
                else if (onRow is null)
                {
                    rows.Add(new SourceRow(values!, row, rowLine));
                }
                else
                {
                    onRow(new SourceRow(values!, row, rowLine));
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CsvFormatException or System.Text.DecoderFallbackException or ArgumentException)
        {
            diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.DataRead, source.Location, source.Name, ex.Message.TrimEnd('.')));
            return new SourceReadResult(rows, diagnostics, true);
        }

        return new SourceReadResult(rows, diagnostics, false);
    }

    /// <summary>FNV-1a, 64 bits, over the key's UTF-16 code units.</summary>
    private static ulong Hash(string key)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in key)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return hash;
    }

    /// <summary>The spreadsheet row before <paramref name="beforeRow"/> whose key is <paramref name="key"/>; null when none (a hash collision).</summary>
    private static int? FirstRowWithKey(SourceDefinition source, int ordinal, string key, int beforeRow)
    {
        var keyField = source.Fields.First(f => f.Name == source.Key);
        using var reader = OpenText(source.FullPath!);
        using var csv = Open(reader, source.Option("delimiter") is { Length: > 0 } d ? d[0] : ',');
        for (var row = 2; row < beforeRow && csv.Read(); row++)
        {
            if (ordinal < csv.RowFieldCount && csv.RowFieldCount == csv.FieldCount
                && FieldParser.TryParse(csv.GetString(ordinal), keyField.Type, source.TimeZone, out var value, out _)
                && Evaluation.RecordKeys.FormatAny(value) == key)
            {
                return row;
            }
        }

        return null;
    }

    /// <summary>Strict UTF-8 (an invalid byte is an error, never a replacement character), BOM allowed.</summary>
    private static StreamReader OpenText(string path) =>
        new(path, new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: true);

    private static CsvDataReader Open(TextReader reader, char delimiter) => CsvDataReader.Create(reader, new CsvDataReaderOptions
    {
        HasHeaders = true,
        Delimiter = delimiter,
        BufferSize = 64 * 1024,
        MaxBufferSize = 16 * 1024 * 1024,
    });

    private static int FindColumn(CsvDataReader csv, string name)
    {
        for (var i = 0; i < csv.FieldCount; i++)
        {
            if (string.Equals(csv.GetName(i).Trim(), name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    internal static string DisplayPath(string path)
    {
        var relative = Path.GetRelativePath(Directory.GetCurrentDirectory(), path);
        return relative.StartsWith("..", StringComparison.Ordinal) ? path : relative.Replace('\\', '/');
    }
}
