using System.Globalization;
using PlaybookRunner.Abstractions;
using Sylvan.Data.Csv;

namespace PlaybookRunner.Runtime;

/// <summary>
/// The current csv row as the generated record classes read it: one typed value per declared field,
/// parsed from the reader's buffer, with no <c>object</c> in between. The same rules as
/// <see cref="FieldParser"/>; a value it rejects is remembered in <see cref="FailedField"/> (the first
/// only) and read as the default, and the caller discards that record and reports the row with
/// <see cref="FieldParser"/>'s message.
/// </summary>
public sealed class CsvRecordReader
{
    private readonly CsvDataReader _csv;
    private readonly int[] _ordinals;
    private readonly FieldType[] _types;
    private readonly TimeZoneInfo _zone;

    public CsvRecordReader(CsvDataReader csv, int[] ordinals, FieldType[] types, TimeZoneInfo zone)
    {
        (_csv, _ordinals, _types, _zone) = (csv, ordinals, types, zone);
    }

    /// <summary>The first declared field of the current row whose value was not valid; -1 when none.</summary>
    public int FailedField { get; private set; } = -1;

    /// <summary>Starts a new row.</summary>
    public void Reset() => FailedField = -1;

    /// <summary>
    /// Text field <paramref name="field"/> of the current row; null (and noted when the field is not
    /// nullable) when blank. Not generic: shared generic code for reference types would look the type up at every call.
    /// </summary>
    public string? GetText(int field)
    {
        var text = _csv.GetString(_ordinals[field]);
        return !string.IsNullOrWhiteSpace(text) ? text : _types[field].IsNullable ? null : Fail<string>(field);
    }

    /// <summary>Field <paramref name="field"/> (declared order) of the current row as <typeparamref name="T"/>.</summary>
    public T Get<T>(int field)
    {
        // typeof(T) tests are constants to the JIT: each instantiation keeps one branch and boxes nothing.
        if (typeof(T) == typeof(string))
        {
            return (T)(object)GetText(field)!;
        }

        var span = _csv.GetFieldSpan(_ordinals[field]).Trim();
        if (typeof(T) == typeof(int) || typeof(T) == typeof(int?))
        {
            return span.IsEmpty ? Missing<T>(field)
                : int.TryParse(span, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? (T)(object)v : Fail<T>(field);
        }

        if (typeof(T) == typeof(long) || typeof(T) == typeof(long?))
        {
            return span.IsEmpty ? Missing<T>(field)
                : long.TryParse(span, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? (T)(object)v : Fail<T>(field);
        }

        if (typeof(T) == typeof(decimal) || typeof(T) == typeof(decimal?))
        {
            return span.IsEmpty ? Missing<T>(field)
                : decimal.TryParse(span, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? (T)(object)v : Fail<T>(field);
        }

        if (typeof(T) == typeof(double) || typeof(T) == typeof(double?))
        {
            return span.IsEmpty ? Missing<T>(field)
                : double.TryParse(span, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? (T)(object)v : Fail<T>(field);
        }

        if (typeof(T) == typeof(DateOnly) || typeof(T) == typeof(DateOnly?))
        {
            return span.IsEmpty ? Missing<T>(field)
                : FieldParser.TryParseDate(span, out var v) ? (T)(object)v : Fail<T>(field);
        }

        if (typeof(T) == typeof(bool) || typeof(T) == typeof(bool?))
        {
            return span.IsEmpty ? Missing<T>(field) : FieldParser.ParseBool(span) is { } v ? (T)(object)v : Fail<T>(field);
        }

        // datetime and lists: the general parser (they are rare).
        if (span.IsEmpty)
        {
            return Missing<T>(field);
        }

        return FieldParser.TryParse(_csv.GetString(_ordinals[field]), _types[field], _zone, out var value, out _) ? (T)value! : Fail<T>(field);
    }

    private T Missing<T>(int field) => _types[field].IsNullable ? default! : Fail<T>(field);

    private T Fail<T>(int field)
    {
        if (FailedField < 0)
        {
            FailedField = field;
        }

        return default!;
    }
}
