namespace PlaybookRunner.Runtime;

/// <summary>Base of the record type generated for each source's declared fields.</summary>
public abstract class GeneratedRecord
{
    /// <summary>The record's key as text (invariant culture).</summary>
    public abstract string Key { get; }

    /// <summary>The value of field <paramref name="index"/> in declaration order, for templates and explain.</summary>
    public abstract object? GetField(int index);

    /// <summary>Attaches the records of related source <paramref name="index"/> (a typed array made by the related record class).</summary>
    public virtual void SetRelated(int index, object records)
    {
    }

    /// <summary>The records of related source <paramref name="index"/>.</summary>
    public virtual IReadOnlyList<GeneratedRecord> GetRelated(int index) => [];
}
