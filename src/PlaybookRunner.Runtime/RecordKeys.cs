using System.Globalization;

namespace PlaybookRunner.Runtime;

/// <summary>Formats record keys as text, culture-invariantly.</summary>
public static class RecordKeys
{
    public static string Format(string value) => value;

    public static string Format<T>(T value)
        where T : IFormattable => value.ToString(null, CultureInfo.InvariantCulture);

    public static string Format(DateOnly value) => value.ToString(DateFormats.Date, CultureInfo.InvariantCulture);

    public static string Format(bool value) => value ? "true" : "false";

    public static string Format(string[] value) => string.Join(";", value);

    /// <summary>Any typed field value as key text.</summary>
    public static string FormatAny(object? value) => value switch
    {
        null => "",
        string s => s,
        DateOnly d => Format(d),
        bool b => Format(b),
        string[] a => Format(a),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
