namespace PlaybookRunner.Runtime;

/// <summary>
/// Collects the values of a condition's parts while a playbook compiled for explanation runs
/// (<c>playbook explain</c>, <c>plan --explain</c>): per playbook, rule (segments as negative
/// indexes) and customer key, the value of each instrumented sub-expression that was evaluated.
/// </summary>
internal sealed class ExplainSink(string? key)
{
    private static readonly AsyncLocal<ExplainSink?> Active = new();

    /// <summary>The sink of the evaluation running on this logical thread, if any.</summary>
    public static ExplainSink? Current
    {
        get => Active.Value;
        set => Active.Value = value;
    }

    /// <summary>The one customer explained, or null for all.</summary>
    public string? Key => key;

    public Dictionary<(string Playbook, int Rule, string Key), Dictionary<int, object?>> Values { get; } = [];

    /// <summary>The let values, per playbook and let index.</summary>
    public Dictionary<(string Playbook, int Let), object?> Lets { get; } = [];

    /// <summary>The records evaluated (playbook, key) that match <see cref="Key"/>.</summary>
    public HashSet<(string Playbook, string Key)> Seen { get; } = [];

    /// <summary>A value as <c>explain</c> shows it: null, true/false, numbers and dates invariant, text quoted.</summary>
    public static string Format(object? value) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        string s => System.Text.Json.JsonSerializer.Serialize(s),
        DateTime d => d.ToString(d.TimeOfDay == TimeSpan.Zero ? DateFormats.Date : DateFormats.LocalDateTime, System.Globalization.CultureInfo.InvariantCulture),
        DateOnly d => d.ToString(DateFormats.Date, System.Globalization.CultureInfo.InvariantCulture),
        DateTimeOffset d => d.ToString(DateFormats.Instant, System.Globalization.CultureInfo.InvariantCulture),
        System.Collections.ICollection c => $"[{c.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)} items]",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    public void Record(string playbook, int rule, string recordKey, int node, object? value)
    {
        if (!Values.TryGetValue((playbook, rule, recordKey), out var nodes))
        {
            nodes = Values[(playbook, rule, recordKey)] = [];
        }

        // Inside a loop (a helper over related records) the first value is kept: it is the one that decided.
        nodes.TryAdd(node, value);
    }
}
