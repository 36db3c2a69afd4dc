namespace PlaybookRunner.Core.Evaluation;

/// <summary>Base of the record type generated for each source's declared fields.</summary>
internal abstract class GeneratedRecord
{
    /// <summary>The record's key as text (invariant culture).</summary>
    public abstract string Key { get; }

    /// <summary>The value of field <paramref name="index"/> in declaration order, for templates and explain.</summary>
    public abstract object? GetField(int index);
}
