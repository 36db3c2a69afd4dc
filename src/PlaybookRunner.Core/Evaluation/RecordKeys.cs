using System.Globalization;

namespace PlaybookRunner.Core.Evaluation;

/// <summary>Formats record keys as text, culture-invariantly.</summary>
internal static class RecordKeys
{
    public static string Format(string value) => value;

    public static string Format<T>(T value)
        where T : IFormattable => value.ToString(null, CultureInfo.InvariantCulture);

    public static string Format(DateOnly value) => value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public static string Format(bool value) => value ? "true" : "false";

    public static string Format(string[] value) => string.Join(";", value);
}
