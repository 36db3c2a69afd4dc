using PlaybookRunner.Abstractions;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Evaluation;
using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Plugins;

namespace PlaybookRunner.Core.Sources;

/// <summary>
/// Reads any source into typed rows: csv through its own reader, every other kind (built-in or
/// plugin) through the <see cref="ISourcePlugin"/> contract, with the declared field types, the
/// bad-row policy and key uniqueness applied here, the same for all.
/// </summary>
internal static class SourceReader
{
    /// <param name="source">The source to read.</param>
    /// <param name="catalog">Where plugin kinds come from.</param>
    /// <param name="secrets">Resolves and scrubs <c>${env:...}</c> values.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    /// <param name="onRow">When given, each good row goes here as it is read and none are kept.</param>
    /// <param name="columns">For csv: a first pass that reads a few columns, typed (see <see cref="CsvSource.Read"/>).</param>
    /// <param name="typed">For csv: read rows straight into records (see <see cref="CsvSource.Read"/>).</param>
    public static async Task<SourceReadResult> ReadAsync(SourceDefinition source, PluginCatalog catalog, Secrets secrets, CancellationToken cancellationToken, Action<SourceRow>? onRow = null, TypedRows? typed = null, Action<CsvRecordReader>? columns = null)
    {
        if (source.Kind == "csv")
        {
            return CsvSource.Read(source, cancellationToken, onRow, typed, columns);
        }

        var diagnostics = new List<Diagnostic>();
        var rows = new List<SourceRow>();
        if (!catalog.Sources.TryGetValue(source.Kind, out var provider))
        {
            diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.UnknownSourceKind, source.LocationOf("kind"), source.Kind, string.Join(", ", catalog.SourceKinds)));
            return new SourceReadResult(rows, diagnostics, true);
        }

        if (ResolveOptions(source, secrets, diagnostics) is not { } options)
        {
            return new SourceReadResult(rows, diagnostics, true);
        }

        var zone = source.TimeZone;
        var keyIndex = source.Fields.ToList().FindIndex(f => f.Name == source.Key);
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        var dataPath = source.FullPath;
        var count = 0;
        try
        {
            await foreach (var record in provider.Plugin.ReadAsync(options, cancellationToken).WithCancellation(cancellationToken))
            {
                count++;
                var location = record.Line > 0 && dataPath is not null ? SourceLocation.At(dataPath, record.Line, 1) : source.Location;
                if (record.Values.TryGetValue(JsonlSourcePlugin.MalformedKey, out var malformed))
                {
                    var skip = source.OnBadRow == BadRowPolicy.Skip;
                    diagnostics.Add(new Diagnostic(DiagnosticDescriptors.MalformedRecord, location, skip ? DiagnosticSeverity.Warning : DiagnosticSeverity.Error,
                        DiagnosticDescriptors.MalformedRecord.Format([(skip ? "Skipped " : "") + secrets.Scrub(record.Origin), secrets.Scrub(malformed as string ?? "")])));
                    if (!skip)
                    {
                        return new SourceReadResult(rows, diagnostics, true);
                    }

                    continue;
                }

                var values = new object?[source.Fields.Count];
                var bad = false;
                for (var i = 0; i < source.Fields.Count; i++)
                {
                    var field = source.Fields[i];
                    record.Values.TryGetValue(field.Column, out var raw);
                    if (RawValueConverter.TryConvert(raw, field.Type, zone, out var value, out var problem))
                    {
                        values[i] = value;
                        continue;
                    }

                    bad = true;
                    var descriptor = source.OnBadRow == BadRowPolicy.Skip ? DiagnosticDescriptors.SkippedRecord : DiagnosticDescriptors.BadRecord;
                    diagnostics.Add(Diagnostic.Create(descriptor, location, secrets.Scrub(record.Origin), field.Name, field.Type, secrets.Scrub(problem)));
                    if (source.OnBadRow == BadRowPolicy.Fail)
                    {
                        return new SourceReadResult(rows, diagnostics, true);
                    }

                    break;
                }

                if (bad)
                {
                    continue;
                }

                var key = RecordKeys.FormatAny(values[keyIndex]);
                if (FieldParser.KeyProblem(key) is { } keyProblem)
                {
                    var keyField = source.Fields[keyIndex];
                    var descriptor = source.OnBadRow == BadRowPolicy.Skip ? DiagnosticDescriptors.SkippedRecord : DiagnosticDescriptors.BadRecord;
                    diagnostics.Add(Diagnostic.Create(descriptor, location, secrets.Scrub(record.Origin), keyField.Name, keyField.Type, keyProblem));
                    if (source.OnBadRow == BadRowPolicy.Fail)
                    {
                        return new SourceReadResult(rows, diagnostics, true);
                    }

                    continue;
                }

                if (seen.TryGetValue(key, out var first))
                {
                    diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.DuplicateRecordKey, location, record.Origin, key, first));
                    return new SourceReadResult(rows, diagnostics, true);
                }

                seen[key] = record.Origin;
                if (onRow is null)
                {
                    rows.Add(new SourceRow(values, count, record.Line));
                }
                else
                {
                    onRow(new SourceRow(values, count, record.Line));
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            var message = ex is SourceReadException ? ex.Message : $"{ex.GetType().Name}: {ex.Message}";
            var at = ex.Data["line"] is int line && dataPath is not null ? SourceLocation.At(dataPath, line, 1) : source.Location;
            diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.PluginRead, at, source.Name, source.Kind, provider.PluginName == PluginCatalog.BuiltIn ? "built in" : $"plugin {provider.PluginName}",
                secrets.Scrub(message.TrimEnd('.'))));
            return new SourceReadResult(rows, diagnostics, true);
        }

        return new SourceReadResult(rows, diagnostics, false);
    }

    /// <summary>The plugin's view of the options, secrets resolved; null (with diagnostics) when a variable is missing.</summary>
    public static SourceOptions? ResolveOptions(SourceDefinition source, Secrets secrets, List<Diagnostic> diagnostics)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, text) in source.Options)
        {
            if (!secrets.TryResolve(text, out var resolved, out var missing))
            {
                diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.MissingEnv, source.LocationOf(name), missing));
                return null;
            }

            values[name] = resolved;
        }

        return new SourceOptions(source.Name, values, source.BaseDirectory, source.Columns);
    }
}
