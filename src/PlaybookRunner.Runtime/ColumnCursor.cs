using PlaybookRunner.Abstractions;

namespace PlaybookRunner.Runtime;

/// <summary>
/// The typed columns a playbook's <c>let</c> aggregates see, and a cursor over them that the generated
/// record classes read a row from (<c>new RecordN(cursor)</c>): one typed value per declared field, with
/// no <c>object</c> in between. A field that is not kept reads as its default (empty text, zero).
/// </summary>
public sealed class ColumnCursor
{
    private readonly Column?[] _byField;
    private readonly object?[] _defaults;

    public ColumnCursor(IReadOnlyList<FieldType> fields, IReadOnlySet<int> kept)
    {
        _byField = [.. fields.Select((f, i) => kept.Contains(i) ? Column.For(f) : null)];
        _defaults = [.. fields.Select(DefaultOf)];
    }

    /// <summary>The row the generated constructor reads.</summary>
    public int Index { get; set; }

    /// <summary>Field <paramref name="field"/> (declared order) of row <see cref="Index"/>.</summary>
    public T Get<T>(int field) => _byField[field] is Column<T> column ? column[Index] : (T)_defaults[field]!;

    /// <summary>Appends the kept fields of the reader's current row (typed, nothing boxed); the reader notes a bad value.</summary>
    public void Append(CsvRecordReader reader)
    {
        for (var i = 0; i < _byField.Length; i++)
        {
            _byField[i]?.Append(reader, i);
        }
    }

    /// <summary>Appends the kept fields of a row of converted values.</summary>
    public void Append(object?[] values)
    {
        for (var i = 0; i < _byField.Length; i++)
        {
            _byField[i]?.Append(values[i]);
        }
    }

    private static object? DefaultOf(FieldType type) => type.IsNullable ? null : type.Kind switch
    {
        FieldKind.Int => 0,
        FieldKind.Long => 0L,
        FieldKind.Decimal => 0m,
        FieldKind.Double => 0d,
        FieldKind.Bool => false,
        FieldKind.Date => default(DateOnly),
        FieldKind.DateTime => default(DateTime),
        FieldKind.StringArray => Array.Empty<string>(),
        _ => "",
    };

    /// <summary>One kept field, stored unboxed (a decimal column costs 16 bytes a record).</summary>
    private abstract class Column
    {
        public abstract void Append(CsvRecordReader reader, int field);

        public abstract void Append(object? value);

        public static Column For(FieldType type) => (type.Kind, type.IsNullable) switch
        {
            (FieldKind.Int, false) => new Column<int>(),
            (FieldKind.Int, true) => new Column<int?>(),
            (FieldKind.Long, false) => new Column<long>(),
            (FieldKind.Long, true) => new Column<long?>(),
            (FieldKind.Decimal, false) => new Column<decimal>(),
            (FieldKind.Decimal, true) => new Column<decimal?>(),
            (FieldKind.Double, false) => new Column<double>(),
            (FieldKind.Double, true) => new Column<double?>(),
            (FieldKind.Bool, false) => new Column<bool>(),
            (FieldKind.Bool, true) => new Column<bool?>(),
            (FieldKind.Date, false) => new Column<DateOnly>(),
            (FieldKind.Date, true) => new Column<DateOnly?>(),
            (FieldKind.DateTime, false) => new Column<DateTime>(),
            (FieldKind.DateTime, true) => new Column<DateTime?>(),
            (FieldKind.StringArray, _) => new Column<string[]>(),
            _ => new Column<string>(),
        };
    }

    /// <summary>
    /// Values in chunks of <see cref="ChunkSize"/>: each chunk stays under the large-object threshold, so
    /// growing the column never leaves the freed halves of doubled arrays behind in the large-object heap.
    /// </summary>
    private sealed class Column<T> : Column
    {
        private const int ChunkShift = 11;
        private const int ChunkSize = 1 << ChunkShift;
        private readonly List<T[]> _chunks = [];
        private int _count;

        public T this[int index] => _chunks[index >> ChunkShift][index & (ChunkSize - 1)];

        public override void Append(CsvRecordReader reader, int field) => Add(reader.Get<T>(field));

        public override void Append(object? value) => Add((T)value!);

        private void Add(T value)
        {
            if ((_count & (ChunkSize - 1)) == 0)
            {
                _chunks.Add(new T[ChunkSize]);
            }

            _chunks[^1][_count & (ChunkSize - 1)] = value;
            _count++;
        }
    }
}
