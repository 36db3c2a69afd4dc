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

    /// <summary>True when <paramref name="url"/> starts with <c>scheme://authority</c> ended by '/', '?' or '#'.</summary>
    public static bool HasFixedAuthority(string url)
    {
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        return scheme > 0 && url.IndexOfAny(['/', '?', '#'], scheme + 3) > scheme + 3;
    }
}
