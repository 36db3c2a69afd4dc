using System.Text.Json;
using System.Text.Json.Serialization;

namespace PlaybookRunner.Core.Execution;

/// <summary>
/// What the store keeps of an action so that it can be executed again after a crash with the same
/// idempotency key: the rendered fields and the context, never a resolved secret (channel
/// credentials are looked up when the action is executed).
/// </summary>
internal sealed record ActionPayload(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("severity")] string Severity,
    [property: JsonPropertyName("baseDirectory")] string BaseDirectory,
    [property: JsonPropertyName("fields")] Dictionary<string, string> Fields,
    [property: JsonPropertyName("headers")] Dictionary<string, string> Headers,
    [property: JsonPropertyName("html")] bool Html)
{
    private static readonly JsonSerializerOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    public static ActionPayload FromJson(string json) => JsonSerializer.Deserialize<ActionPayload>(json, Options)
        ?? throw new InvalidOperationException("Empty action payload in the state store");

    public string? Field(string name) => Fields.TryGetValue(name, out var value) ? value : null;
}

/// <summary>How an action attempt ended, as the store and the exit code see it.</summary>
internal sealed record AttemptOutcome(bool Succeeded, bool Transient, string Message, TimeSpan? RetryAfter = null)
{
    public static AttemptOutcome Ok(string message) => new(true, false, message);

    public static AttemptOutcome Retry(string message, TimeSpan? after = null) => new(false, true, message, after);

    public static AttemptOutcome Permanent(string message) => new(false, false, message);
}
