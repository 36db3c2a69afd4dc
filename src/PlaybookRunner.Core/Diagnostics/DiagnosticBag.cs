namespace PlaybookRunner.Core.Diagnostics;

/// <summary>Collects diagnostics while a stage runs; stages never throw on bad input.</summary>
public sealed class DiagnosticBag
{
    private readonly List<Diagnostic> _items = [];

    /// <summary>All diagnostics so far, in the order reported.</summary>
    public IReadOnlyList<Diagnostic> Items => _items;

    /// <summary>True when any error was reported.</summary>
    public bool HasErrors => _items.Exists(d => d.IsError);

    /// <summary>Reports one diagnostic.</summary>
    public void Add(DiagnosticDescriptor descriptor, SourceLocation location, params object?[] args) =>
        _items.Add(Diagnostic.Create(descriptor, location, args));

    /// <summary>Reports one diagnostic.</summary>
    public void Add(Diagnostic diagnostic) => _items.Add(diagnostic);

    /// <summary>Reports many.</summary>
    public void AddRange(IEnumerable<Diagnostic> diagnostics) => _items.AddRange(diagnostics);

    /// <summary>The diagnostics in canonical order: file, line, column, ID.</summary>
    public IReadOnlyList<Diagnostic> Sorted() => Sort(_items);

    /// <summary>Canonical order: file, line, column, ID, message.</summary>
    public static IReadOnlyList<Diagnostic> Sort(IEnumerable<Diagnostic> diagnostics) =>
    [
        .. diagnostics
            .OrderBy(d => d.Location.Path, StringComparer.Ordinal)
            .ThenBy(d => d.Location.Line)
            .ThenBy(d => d.Location.Column)
            .ThenBy(d => d.Id, StringComparer.Ordinal)
            .ThenBy(d => d.Message, StringComparer.Ordinal)
            .Distinct(),
    ];
}
