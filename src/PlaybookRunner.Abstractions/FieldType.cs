using System.Diagnostics.CodeAnalysis;

namespace PlaybookRunner.Abstractions;

/// <summary>A declared field type: a <see cref="FieldKind"/> and whether a value may be missing (<c>?</c>).</summary>
/// <param name="Kind">The value kind.</param>
/// <param name="IsNullable">True for the <c>?</c> form, which allows a missing value.</param>
public readonly record struct FieldType(FieldKind Kind, bool IsNullable)
{
    /// <summary>The spelling used in YAML, e.g. <c>decimal?</c> or <c>string[]</c>.</summary>
    public override string ToString() => KindName(Kind) + (IsNullable ? "?" : "");

    /// <summary>Parses a YAML type name such as <c>int?</c>; returns false for anything else.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out FieldType? type)
    {
        type = null;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var nullable = text.EndsWith('?');
        var name = nullable ? text[..^1] : text;
        FieldKind? kind = name switch
        {
            "string" => FieldKind.String,
            "int" => FieldKind.Int,
            "long" => FieldKind.Long,
            "decimal" => FieldKind.Decimal,
            "double" => FieldKind.Double,
            "bool" => FieldKind.Bool,
            "date" => FieldKind.Date,
            "datetime" => FieldKind.DateTime,
            "string[]" => FieldKind.StringArray,
            _ => null,
        };
        if (kind is null)
        {
            return false;
        }

        type = new FieldType(kind.Value, nullable);
        return true;
    }

    /// <summary>The YAML name of a kind, without the <c>?</c>.</summary>
    public static string KindName(FieldKind kind) => kind switch
    {
        FieldKind.String => "string",
        FieldKind.Int => "int",
        FieldKind.Long => "long",
        FieldKind.Decimal => "decimal",
        FieldKind.Double => "double",
        FieldKind.Bool => "bool",
        FieldKind.Date => "date",
        FieldKind.DateTime => "datetime",
        FieldKind.StringArray => "string[]",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
