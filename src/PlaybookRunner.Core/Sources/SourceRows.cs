using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Core.Sources;

/// <summary>One typed row from a source, in declared field order, with where it came from.</summary>
internal readonly record struct SourceRow(object?[] Values, int Row, int Line);

/// <summary>What reading a source produced: rows and the diagnostics (bad rows, skipped rows).</summary>
internal sealed record SourceReadResult(IReadOnlyList<SourceRow> Rows, IReadOnlyList<Diagnostic> Diagnostics, bool Failed);
