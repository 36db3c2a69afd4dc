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
    /// <param name="typed">
    /// When given, each row is read straight into a record of the generated class (no boxed values)
    /// and handed to <see cref="TypedRows.OnRecord"/>; <paramref name="onRow"/> is not used.
    /// </param>
    /// <param name="columns">
    /// When given, each row is handed to it to read the fields it needs, typed from the reader's buffer
    /// (a first pass that keeps a few columns); nothing is kept and keys are not checked. A bad value in
    /// those fields fails the read after the row was handed over: for <c>on_bad_row: fail</c> only.
    /// </param>
    public static SourceReadResult Read(SourceDefinition source, CancellationToken cancellationToken, Action<SourceRow>? onRow = null, TypedRows? typed = null, Action<CsvRecordReader>? columns = null)
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
            var records = typed is null && columns is null ? null : new CsvRecordReader(csv, ordinals, [.. source.Fields.Select(f => f.Type)], zone);
            // 64-bit hashes of the keys, checked for repeats when the read ends (or fails): 8 bytes a
            // record. A repeated hash is confirmed by reading the file again, so a collision is never reported.
            var keys = new KeyHashLog();
            SourceReadResult Failed(int beforeRow)
            {
                // A duplicate key before the failing row is the first error in the file.
                if (Duplicate(source, keys, ordinals, keyIndex, beforeRow, cancellationToken) is { } duplicate)
                {
                    diagnostics.Clear();
                    diagnostics.Add(duplicate);
                }

                return new SourceReadResult(rows, diagnostics, true);
            }

            var row = 1;
            var line = 2;
            try
            {
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
                            return Failed(row);
                        }

                        continue;
                    }

                    if (FieldParser.KeyProblem(csv.GetFieldSpan(ordinals[keyIndex])) is { } keyProblem)
                    {
                        var keyField = source.Fields[keyIndex];
                        var descriptor = source.OnBadRow == BadRowPolicy.Skip ? DiagnosticDescriptors.SkippedRow : DiagnosticDescriptors.BadRow;
                        diagnostics.Add(Diagnostic.Create(descriptor, SourceLocation.At(path, rowLine, ordinals[keyIndex] + 1), row, ordinals[keyIndex] + 1, keyField.Column, keyField.Name, keyField.Type, keyProblem));
                        if (source.OnBadRow == BadRowPolicy.Fail)
                        {
                            return Failed(row);
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
                    else if (columns is not null)
                    {
                        records!.Reset();
                        columns(records);
                        badField = records.FailedField;
                    }
                    else
                    {
                        values = new object?[source.Fields.Count];
                        for (var i = 0; i < source.Fields.Count && badField < 0; i++)
                        {
                            if (fromSpan[i] && FieldParser.TryParseNumberOrDate(csv.GetFieldSpan(ordinals[i]), source.Fields[i].Type, out values[i]))
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
                            return Failed(row);
                        }

                        continue;
                    }

                    if (columns is not null)
                    {
                        continue;
                    }

                    keys.Add(KeyHashLog.Hash(record?.Key ?? RecordKeys.FormatAny(values![keyIndex])));
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
            catch (Exception ex) when (ex is OperationCanceledException or IOException or CsvFormatException or System.Text.DecoderFallbackException or ArgumentException)
            {
                // The read stopped part-way (cancelled when the evaluation ended early, or unreadable):
                // a key repeated before that point is still reported, and first.
                if (Duplicate(source, keys, ordinals, keyIndex, row + 1, CancellationToken.None) is { } repeated)
                {
                    diagnostics.Add(repeated);
                    return new SourceReadResult(rows, diagnostics, true);
                }

                throw;
            }

            if (Duplicate(source, keys, ordinals, keyIndex, int.MaxValue, cancellationToken) is { } duplicate)
            {
                diagnostics.Add(duplicate);
                return new SourceReadResult(rows, diagnostics, true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CsvFormatException or System.Text.DecoderFallbackException or ArgumentException)
        {
            diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.DataRead, source.Location, source.Name, ex.Message.TrimEnd('.')));
            return new SourceReadResult(rows, diagnostics, true);
        }

        return new SourceReadResult(rows, diagnostics, false);
    }

    /// <summary>
    /// The first row before <paramref name="beforeRow"/> whose key an earlier row already had, as a
    /// diagnostic; null when the keys are unique. Only rows whose key hash repeats are looked at, and
    /// among them only rows the read kept (the right shape, every value valid).
    /// </summary>
    private static Diagnostic? Duplicate(SourceDefinition source, KeyHashLog keys, int[] ordinals, int keyIndex, int beforeRow, CancellationToken cancellationToken)
    {
        var repeated = keys.Repeated();
        if (repeated.Count == 0)
        {
            return null;
        }

        var path = source.FullPath!;
        var zone = source.TimeZone;
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        using var reader = OpenText(path);
        using var csv = Open(reader, source.Option("delimiter") is { Length: > 0 } d ? d[0] : ',');
        var line = 2;
        for (var row = 2; row < beforeRow && csv.Read(); row++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var rowLine = line;
            line += 1 + csv.GetRawRecordSpan().TrimEnd("\r\n").Count('\n');
            if (csv.RowFieldCount != csv.FieldCount || (csv.RowFieldCount == 1 && csv.GetRawRecordSpan().Trim().IsEmpty)
                || !FieldParser.TryParse(csv.GetString(ordinals[keyIndex]), source.Fields[keyIndex].Type, zone, out var value, out _))
            {
                continue;
            }

            var key = RecordKeys.FormatAny(value);
            if (!repeated.Contains(KeyHashLog.Hash(key))
                || !Enumerable.Range(0, ordinals.Length).All(i => FieldParser.TryParse(csv.GetString(ordinals[i]), source.Fields[i].Type, zone, out _, out _)))
            {
                continue;
            }

            if (first.TryGetValue(key, out var firstRow))
            {
                return Diagnostic.Create(DiagnosticDescriptors.DuplicateRecordKey, SourceLocation.At(path, rowLine, ordinals[keyIndex] + 1), $"Row {row}", key, $"row {firstRow}");
            }

            first[key] = row;
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
