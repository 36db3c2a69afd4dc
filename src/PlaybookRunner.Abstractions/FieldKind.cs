namespace PlaybookRunner.Abstractions;

/// <summary>The value kinds a source field can declare (spec section 4).</summary>
public enum FieldKind
{
    /// <summary>Text.</summary>
    String,
    /// <summary>32-bit integer.</summary>
    Int,
    /// <summary>64-bit integer.</summary>
    Long,
    /// <summary>Decimal number, exact (money).</summary>
    Decimal,
    /// <summary>Binary floating point.</summary>
    Double,
    /// <summary>Boolean.</summary>
    Bool,
    /// <summary>Calendar date, surfaced as <see cref="System.DateOnly"/>.</summary>
    Date,
    /// <summary>Instant, surfaced as a UTC <see cref="System.DateTime"/>.</summary>
    DateTime,
    /// <summary>List of strings.</summary>
    StringArray,
}
