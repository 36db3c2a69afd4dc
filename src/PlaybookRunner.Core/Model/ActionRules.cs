namespace PlaybookRunner.Core.Model;

/// <summary>Rules about what an action may say, shared by the loader (checked at load) and execution (checked again on send).</summary>
internal static class ActionRules
{
    /// <summary>
    /// Headers a playbook cannot set: the ones that frame or route the request (a Host from data would take
    /// the channel's credentials to another virtual host) and the ones the engine sets for idempotency.
    /// </summary>
    public static readonly IReadOnlySet<string> ReservedHeaders = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "TE", "Trailer", "Keep-Alive", "Expect",
        "Proxy-Authorization", "Proxy-Connection", "Idempotency-Key", "webhook-id", "webhook-timestamp", "webhook-signature", "X-Playbook-Fencing-Token",
    };

    /// <summary>Why <paramref name="text"/> is not a List-Unsubscribe target (one https: URL or mailto: URI); null when it is one.</summary>
    public static string? UnsubscribeProblem(string text) =>
        text.Any(c => char.IsControl(c) || c is ' ' or '<' or '>' or ',')
            ? "renders a space, control character, '<', '>' or ',' (percent-encode values: | html.url_encode); nothing would be sent"
            : Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeMailto)
                ? null
                : "is not an https: URL or a mailto: address; nothing would be sent";

    /// <summary>True when <paramref name="url"/> starts with <c>scheme://authority</c> ended by '/', '?' or '#'.</summary>
    public static bool HasFixedAuthority(string url)
    {
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        return scheme > 0 && url.IndexOfAny(['/', '?', '#'], scheme + 3) > scheme + 3;
    }
}
