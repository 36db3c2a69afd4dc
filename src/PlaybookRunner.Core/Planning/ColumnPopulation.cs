using System.Collections;
using System.Text.RegularExpressions;
using PlaybookRunner.Core.Evaluation;
using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Core.Planning;

/// <summary>
/// The population a playbook's <c>let</c> aggregates see, kept as typed columns: only the fields the let
/// expressions name are stored, and a record is made on demand when an aggregate asks for it (read
/// from the columns by the generated class, nothing boxed). Not thread-safe: lets run on one thread.
/// </summary>
internal sealed partial class ColumnPopulation : IReadOnlyList<GeneratedRecord>, IReleasablePopulation
{
    private readonly Func<ColumnCursor, GeneratedRecord> _read;
    private readonly Action<GeneratedRecord>? _attach;
    private ColumnCursor _cursor;

    public ColumnPopulation(SourceDefinition source, PlaybookDefinition playbook, Func<ColumnCursor, GeneratedRecord> read, Action<GeneratedRecord>? attach)
    {
        _read = read;
        var named = playbook.Lets.SelectMany(l => Identifier().Matches(l.Expression.Value).Select(m => m.Value)).ToHashSet(StringComparer.Ordinal);
        var kept = Enumerable.Range(0, source.Fields.Count).Where(i => named.Contains(source.Fields[i].Name)).ToHashSet();
        _cursor = new ColumnCursor([.. source.Fields.Select(f => f.Type)], kept);
        // Related lists are attached only when a let names one.
        _attach = source.Related.Any(r => named.Contains(r.Name)) ? attach : null;
    }

    [GeneratedRegex("[A-Za-z_][A-Za-z0-9_]*", RegexOptions.CultureInvariant)]
    private static partial Regex Identifier();

    public int Count { get; private set; }

    public GeneratedRecord this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
            _cursor.Index = index;
            var record = _read(_cursor);
            _attach?.Invoke(record);
            return record;
        }
    }

    /// <summary>Keeps the kept fields of a row of converted values (the first pass under on_bad_row: skip).</summary>
    public void Add(SourceRow row)
    {
        _cursor.Append(row.Values);
        Count++;
    }

    /// <summary>Keeps the kept fields of the csv reader's current row, typed (the first pass under on_bad_row: fail).</summary>
    public void Add(CsvRecordReader reader)
    {
        _cursor.Append(reader);
        Count++;
    }

    /// <summary>Drops the columns once the lets are computed; the population is empty afterwards.</summary>
    public void Release()
    {
        _cursor = new ColumnCursor([], new HashSet<int>());
        Count = 0;
    }

    public IEnumerator<GeneratedRecord> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
