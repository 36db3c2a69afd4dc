namespace PlaybookRunner.Abstractions;

/// <summary>
/// A source of records of one <see cref="Kind"/>, provided by a plugin. The host reads the source's
/// YAML, gives the plugin its options, and applies the declared field types to what the plugin
/// yields (spec section 4), so a plugin never decides what counts as missing or bad.
/// </summary>
/// <remarks>
/// Implementations need a public parameterless constructor. One instance may serve several sources
/// and several reads at once, so keep per-read state inside <see cref="ReadAsync"/>.
/// </remarks>
public interface ISourcePlugin
{
    /// <summary>The <c>kind:</c> this plugin provides, e.g. <c>http-json</c>: lowercase letters, digits and '-'.</summary>
    string Kind { get; }

    /// <summary>
    /// Checks the source's options (every key of the source mapping except kind, key, fields,
    /// timezone, on_bad_row and related). Called by <c>validate</c>; reads no data.
    /// </summary>
    /// <returns>Problems, each naming the option it is about; empty when the options are fine.</returns>
    IReadOnlyList<OptionProblem> ValidateOptions(SourceOptions options);

    /// <summary>
    /// Streams the records. Each record maps column names (a field's <c>column:</c>, by default its
    /// name) to raw values: <see langword="null"/>, <see cref="string"/>, <see cref="bool"/>,
    /// <see cref="long"/>, <see cref="decimal"/>, <see cref="double"/>, <see cref="System.DateTime"/>,
    /// <see cref="System.DateTimeOffset"/>, <see cref="System.DateOnly"/> or a list of strings.
    /// Throw <see cref="SourceReadException"/> for a failure the user should see as a diagnostic.
    /// </summary>
    IAsyncEnumerable<SourceRecord> ReadAsync(SourceOptions options, CancellationToken cancellationToken);
}

/// <summary>The options of one source, with secrets (<c>${env:NAME}</c>) already resolved.</summary>
/// <param name="SourceName">The source's name, for messages.</param>
/// <param name="Values">Option values as text (nested YAML is not passed).</param>
/// <param name="BaseDirectory">The folder of the YAML file that declares the source; resolve relative paths against it.</param>
/// <param name="Columns">The columns the declared fields read, so a plugin can select only those.</param>
public sealed record SourceOptions(string SourceName, IReadOnlyDictionary<string, string> Values, string BaseDirectory, IReadOnlyList<string> Columns)
{
    /// <summary>An option's value, or null when it is not set.</summary>
    public string? Get(string name) => Values.TryGetValue(name, out var value) ? value : null;
}

/// <summary>Something wrong with one option.</summary>
/// <param name="Option">The option's name, so the host can point at its line.</param>
/// <param name="Message">One line, no trailing period.</param>
public sealed record OptionProblem(string Option, string Message);

/// <summary>One record from a source: raw values by column name, and where it came from.</summary>
/// <param name="Values">Raw values by column name; a column that is absent counts as missing.</param>
/// <param name="Origin">Where the record is, for messages: e.g. <c>page 3, item 12</c> or a URL.</param>
public sealed record SourceRecord(IReadOnlyDictionary<string, object?> Values, string Origin)
{
    /// <summary>For sources that read the file named by the <c>path</c> option: the record's 1-based line; otherwise 0.</summary>
    public int Line { get; init; }
}

/// <summary>A failure while reading a source that the host reports as a diagnostic naming the source and plugin.</summary>
public sealed class SourceReadException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SourceReadException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public SourceReadException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    public SourceReadException()
    {
    }
}
