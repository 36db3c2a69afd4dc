using System.Collections;
using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using PlaybookRunner.Core.Compilation;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Evaluation;
using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Plugins;
using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Core.Planning;

/// <summary>What streaming one playbook's source gave: the evaluation (null when the read failed), the read's diagnostics and its record count.</summary>
internal sealed record StreamResult(EvaluationSink? Sink, IReadOnlyList<Diagnostic> Diagnostics, int Count);

/// <summary>
/// Evaluates a playbook over a csv source without holding its records. When the playbook has
/// <c>let</c> values, a first pass keeps only the columns those expressions name (the population the
/// aggregates see). The evaluation pass reads on a second thread into a bounded buffer of batches, so
/// parsing and evaluating overlap and memory stays flat whatever the file's size.
/// </summary>
internal static partial class RecordStream
{
    /// <summary>Records per batch handed from the reading thread to the evaluation.</summary>
    public const int BatchSize = 512;

    /// <summary>Batches the buffer holds before the reader waits: the bound on records in flight.</summary>
    public const int BufferedBatches = 8;

    public static async Task<StreamResult> EvaluateAsync(
        CompiledWorkspace workspace,
        CompiledPlaybookUnit unit,
        IReadOnlyDictionary<SourceDefinition, List<GeneratedRecord>> held,
        PluginCatalog catalog,
        Secrets secrets,
        DateTimeOffset asOf,
        IFiringHistory history,
        TimeSpan budget,
        IProgress<long>? progress,
        CancellationToken cancellationToken)
    {
        var playbook = unit.Definition;
        var source = playbook.Source;
        var factory = workspace.RecordFactories[source].Create;
        var attach = Planner.RelatedAttacher(workspace, source, held);
        IReadOnlyList<GeneratedRecord> population = [];
        if (playbook.Lets.Count > 0)
        {
            var columns = new ColumnPopulation(source, playbook, factory, attach);
            // Under on_bad_row: fail any bad row fails the plan in the second pass, so the first pass
            // converts only the columns the lets name. Under skip it must see every bad row, to leave
            // out of the population exactly the rows the evaluation skips.
            var only = source.OnBadRow == BadRowPolicy.Fail ? columns.Kept : null;
            var first = await SourceReader.ReadAsync(source, catalog, secrets, cancellationToken, columns.Add, only);
            if (first.Failed)
            {
                var full = only is null ? first : await SourceReader.ReadAsync(source, catalog, secrets, cancellationToken, _ => { });
                return new StreamResult(null, full.Diagnostics, 0);
            }

            population = columns;
        }

        using var buffer = new BlockingCollection<GeneratedRecord[]>(BufferedBatches);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var count = 0;
        var reader = Task.Run(
            async () =>
            {
                var batch = new GeneratedRecord[BatchSize];
                var used = 0;
                try
                {
                    void Add(GeneratedRecord record)
                    {
                        attach?.Invoke(record);
                        batch[used++] = record;
                        if (used == BatchSize)
                        {
                            buffer.Add(batch, stop.Token);
                            count += used;
                            progress?.Report(count);
                            (batch, used) = (new GeneratedRecord[BatchSize], 0);
                        }
                    }

                    // Csv rows are read straight into records of the generated class: no boxed values.
                    var result = await SourceReader.ReadAsync(source, catalog, secrets, stop.Token, row => Add(factory(row.Values)),
                        typed: new TypedRows(workspace.RecordFactories[source].ReadCsv, Add));
                    if (used > 0)
                    {
                        buffer.Add(batch[..used], stop.Token);
                        count += used;
                        progress?.Report(count);
                    }

                    return result;
                }
                finally
                {
                    buffer.CompleteAdding();
                }
            },
            CancellationToken.None);

        EvaluationSink sink;
        try
        {
            sink = unit.Run(population, Flatten(buffer, stop.Token), asOf, history, budget);
        }
        finally
        {
            // The evaluation may stop early (budget, error): release a reader waiting for buffer space.
            await stop.CancelAsync();
        }

        try
        {
            var read = await reader;
            return new StreamResult(read.Failed ? null : sink, read.Diagnostics, count);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Stopped by us after the evaluation ended early; the evaluation reports why.
            return new StreamResult(sink, [], count);
        }
    }

    private static IEnumerable<GeneratedRecord> Flatten(BlockingCollection<GeneratedRecord[]> buffer, CancellationToken cancellationToken)
    {
        foreach (var batch in buffer.GetConsumingEnumerable(cancellationToken))
        {
            foreach (var record in batch)
            {
                yield return record;
            }
        }
    }

    [GeneratedRegex("[A-Za-z_][A-Za-z0-9_]*", RegexOptions.CultureInvariant)]
    private static partial Regex Identifier();

    /// <summary>
    /// The population a playbook's <c>let</c> aggregates see, kept as columns: only the fields the let
    /// expressions name are stored, and a record is made on demand when an aggregate asks for it.
    /// </summary>
    private sealed class ColumnPopulation : IReadOnlyList<GeneratedRecord>
    {
        private readonly Func<object?[], GeneratedRecord> _factory;
        private readonly Action<GeneratedRecord>? _attach;
        private readonly int[] _kept;
        private readonly object?[] _defaults;
        private readonly Column[] _columns;

        public ColumnPopulation(SourceDefinition source, PlaybookDefinition playbook, Func<object?[], GeneratedRecord> factory, Action<GeneratedRecord>? attach)
        {
            _factory = factory;
            var named = playbook.Lets.SelectMany(l => Identifier().Matches(l.Expression.Value).Select(m => m.Value)).ToHashSet(StringComparer.Ordinal);
            _kept = [.. Enumerable.Range(0, source.Fields.Count).Where(i => named.Contains(source.Fields[i].Name))];
            _defaults = [.. source.Fields.Select(f => DefaultOf(f.Type))];
            _columns = [.. _kept.Select(i => Column.For(source.Fields[i].Type))];
            Kept = [.. Enumerable.Range(0, source.Fields.Count).Select(_kept.Contains)];
            // Related lists are attached only when a let names one.
            _attach = source.Related.Any(r => named.Contains(r.Name)) ? attach : null;
        }

        public int Count { get; private set; }

        /// <summary>Which fields are kept, by field index.</summary>
        public bool[] Kept { get; }

        public GeneratedRecord this[int index]
        {
            get
            {
                var values = (object?[])_defaults.Clone();
                for (var c = 0; c < _kept.Length; c++)
                {
                    values[_kept[c]] = _columns[c].Get(index);
                }

                var record = _factory(values);
                _attach?.Invoke(record);
                return record;
            }
        }

        public void Add(SourceRow row)
        {
            for (var c = 0; c < _kept.Length; c++)
            {
                _columns[c].Add(row.Values[_kept[c]]);
            }

            Count++;
        }

        public IEnumerator<GeneratedRecord> GetEnumerator()
        {
            for (var i = 0; i < Count; i++)
            {
                yield return this[i];
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        /// <summary>One kept field, stored unboxed (a decimal column costs 16 bytes a record).</summary>
        private abstract class Column
        {
            public abstract void Add(object? value);

            public abstract object? Get(int index);

            public static Column For(Abstractions.FieldType type) => (type.Kind, type.IsNullable) switch
            {
                (Abstractions.FieldKind.Int, false) => new Typed<int>(),
                (Abstractions.FieldKind.Int, true) => new Typed<int?>(),
                (Abstractions.FieldKind.Long, false) => new Typed<long>(),
                (Abstractions.FieldKind.Long, true) => new Typed<long?>(),
                (Abstractions.FieldKind.Decimal, false) => new Typed<decimal>(),
                (Abstractions.FieldKind.Decimal, true) => new Typed<decimal?>(),
                (Abstractions.FieldKind.Double, false) => new Typed<double>(),
                (Abstractions.FieldKind.Double, true) => new Typed<double?>(),
                (Abstractions.FieldKind.Bool, false) => new Typed<bool>(),
                (Abstractions.FieldKind.Bool, true) => new Typed<bool?>(),
                (Abstractions.FieldKind.Date, false) => new Typed<DateOnly>(),
                (Abstractions.FieldKind.Date, true) => new Typed<DateOnly?>(),
                (Abstractions.FieldKind.DateTime, false) => new Typed<DateTime>(),
                (Abstractions.FieldKind.DateTime, true) => new Typed<DateTime?>(),
                _ => new Typed<object?>(),
            };

            private sealed class Typed<T> : Column
            {
                private readonly List<T> _values = [];

                public override void Add(object? value) => _values.Add((T)value!);

                public override object? Get(int index) => _values[index];
            }
        }

        private static object? DefaultOf(Abstractions.FieldType type) => type.IsNullable ? null : type.Kind switch
        {
            Abstractions.FieldKind.Int => 0,
            Abstractions.FieldKind.Long => 0L,
            Abstractions.FieldKind.Decimal => 0m,
            Abstractions.FieldKind.Double => 0d,
            Abstractions.FieldKind.Bool => false,
            Abstractions.FieldKind.Date => default(DateOnly),
            Abstractions.FieldKind.DateTime => default(DateTime),
            Abstractions.FieldKind.StringArray => Array.Empty<string>(),
            _ => "",
        };
    }
}
