using System.Collections;
using System.Collections.Concurrent;
using System.Diagnostics;
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
internal static class RecordStream
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
        IFindingHandler? onFinding,
        CancellationToken cancellationToken)
    {
        var playbook = unit.Definition;
        var source = playbook.Source;
        var factory = workspace.RecordFactories[source].Create;
        var attach = Planner.RelatedAttacher(workspace, source, held);
        IReadOnlyList<GeneratedRecord> population = [];
        if (playbook.Lets.Count > 0)
        {
            var columns = new ColumnPopulation(source, playbook, workspace.RecordFactories[source].ReadColumns, attach);
            // Under on_bad_row: fail any bad row fails the plan in the second pass, so the first pass
            // reads only the columns the lets name, typed from the reader's buffer. Under skip it must
            // see every bad row, to leave out of the population exactly the rows the evaluation skips.
            var fail = source.OnBadRow == BadRowPolicy.Fail;
            var first = fail
                ? await SourceReader.ReadAsync(source, catalog, secrets, cancellationToken, columns: columns.Add)
                : await SourceReader.ReadAsync(source, catalog, secrets, cancellationToken, columns.Add);
            if (first.Failed)
            {
                var full = fail ? await SourceReader.ReadAsync(source, catalog, secrets, cancellationToken, _ => { }) : first;
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
                    try
                    {
                        if (used > 0 && !result.Failed)
                        {
                            buffer.Add(batch[..used], stop.Token);
                            count += used;
                            progress?.Report(count);
                        }
                    }
                    catch (OperationCanceledException) when (stop.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                    {
                        // The evaluation ended early while the read finished: its diagnostics still count.
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
            // This async method's locals live as long as it does: hand the population over, so that
            // the evaluation can drop it once the lets are computed.
            var lets = population;
            population = [];
            sink = unit.Run(lets, new FedRecords(buffer, stop.Token), asOf, history, budget, onFinding);
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

    /// <summary>The buffer's records in order; each wait for the reader is told to the evaluation, whose budget leaves it out.</summary>
    private sealed class FedRecords(BlockingCollection<GeneratedRecord[]> buffer, CancellationToken cancellationToken) : IEnumerable<GeneratedRecord>, IFedRecords
    {
        public IEvaluationClock? Clock { get; set; }

        public IEnumerator<GeneratedRecord> GetEnumerator()
        {
            while (buffer.TryTake(out var batch) || (batch = Wait()) is not null)
            {
                foreach (var record in batch)
                {
                    yield return record;
                }
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        /// <summary>The next batch once the reader has one; null when it has finished.</summary>
        private GeneratedRecord[]? Wait()
        {
            Clock?.Waiting();
            var started = Stopwatch.GetTimestamp();
            try
            {
                return buffer.TryTake(out var batch, Timeout.Infinite, cancellationToken) ? batch : null;
            }
            finally
            {
                Clock?.Waited(Stopwatch.GetTimestamp() - started);
            }
        }
    }
}
