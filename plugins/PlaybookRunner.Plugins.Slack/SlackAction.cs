using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using PlaybookRunner.Abstractions;

namespace PlaybookRunner.Plugins.Slack;

/// <summary>
/// Action type <c>slack</c>: posts a message to a Slack incoming webhook. The webhook URL is a secret,
/// so it comes from the environment variable named by <c>url_env</c> (default SLACK_WEBHOOK_URL),
/// never from the playbook.
/// </summary>
public sealed class SlackAction : IActionPlugin
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <inheritdoc />
    public string Type => "slack";

    /// <inheritdoc />
    public IReadOnlyList<ActionFieldSpec> Fields { get; } =
    [
        new("text", true, "The message (Slack mrkdwn)"),
        new("channel", false, "Override the webhook's default channel, e.g. #cs-escalations"),
        new("url_env", false, "Name of the environment variable holding the webhook URL (default SLACK_WEBHOOK_URL)"),
    ];

    /// <summary>True when PLAYBOOK_ALLOWED_ENV names the variable (exactly, or by a prefix ending in '*'), as for ${env:NAME}.</summary>
    private static bool OperatorAllows(string variable) =>
        (Environment.GetEnvironmentVariable("PLAYBOOK_ALLOWED_ENV") ?? "")
            .Split([',', ' ', '\t', '\n', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(entry => entry.Split('@')[0])
            .Any(entry => entry.EndsWith('*') ? variable.StartsWith(entry[..^1], StringComparison.Ordinal) : variable == entry);

    /// <inheritdoc />
    public async Task<ActionOutcome> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        var variable = request.Fields.TryGetValue("url_env", out var name) && name.Length > 0 ? name : "SLACK_WEBHOOK_URL";
        if (!OperatorAllows(variable))
        {
            // The playbook names the variable; which variables a workspace may read is the operator's decision.
            return new ActionOutcome(ActionStatus.Permanent, $"environment variable '{variable}' is not allowed for this workspace: the operator allows variables with PLAYBOOK_ALLOWED_ENV");
        }

        if (Environment.GetEnvironmentVariable(variable) is not { Length: > 0 } url || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return new ActionOutcome(ActionStatus.Permanent, $"environment variable '{variable}' does not hold a webhook URL");
        }

        var payload = new Dictionary<string, string> { ["text"] = request.Fields.GetValueOrDefault("text") ?? "" };
        if (request.Fields.TryGetValue("channel", out var channel) && channel.Length > 0)
        {
            payload["channel"] = channel;
        }

        using var message = new HttpRequestMessage(HttpMethod.Post, uri)
        {
            Content = new StringContent(JsonSerializer.Serialize(payload), Encoding.UTF8, "application/json"),
        };
        message.Headers.TryAddWithoutValidation("Idempotency-Key", Uri.EscapeDataString(request.IdempotencyKey));
        try
        {
            using var response = await Http.SendAsync(message, cancellationToken);
            var status = (int)response.StatusCode;
            var where = $"slack webhook {uri.Host}: HTTP {status}";
            if (response.IsSuccessStatusCode)
            {
                return new ActionOutcome(ActionStatus.Succeeded, where);
            }

            return status is 408 or 429 or >= 500
                ? new ActionOutcome(ActionStatus.Transient, where, RetryAfter(response.Headers.RetryAfter))
                : new ActionOutcome(ActionStatus.Permanent, where);
        }
        catch (HttpRequestException ex)
        {
            return new ActionOutcome(ActionStatus.Transient, $"slack webhook {uri.Host}: {ex.Message.TrimEnd('.')}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ActionOutcome(ActionStatus.Transient, $"slack webhook {uri.Host}: timed out");
        }
    }

    private static TimeSpan? RetryAfter(RetryConditionHeaderValue? header) => header?.Delta;
}
