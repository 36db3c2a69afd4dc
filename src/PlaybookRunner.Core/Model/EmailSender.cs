namespace PlaybookRunner.Core.Model;

/// <summary>
/// Whom an email action may send as. Its own <c>from</c> must be one address in the domain of its channel's <c>from</c>,
/// or in a domain the channel's <c>allow_from</c> lists: a value from the data (an owner's address in the CRM) cannot make
/// mail go out as anyone else's. Checked while planning (preflight) and again before the message is sent.
/// </summary>
internal static class EmailSender
{
    /// <summary>Why <paramref name="from"/> may not be used on a channel whose own sender is <paramref name="channelFrom"/>; null when it may.</summary>
    public static string? Problem(string from, string channelFrom, string? allowFrom)
    {
        if (!MimeKit.InternetAddressList.TryParse(from, out var list) || list.Count != 1 || list.Mailboxes.SingleOrDefault() is not { } mailbox
            || !mailbox.Address.Contains('@', StringComparison.Ordinal) || from.Any(c => char.IsControl(c)))
        {
            return $"from '{Diagnostics.SafeText.OneLine(from)}' is not one email address";
        }

        var allowed = Allowed(channelFrom, allowFrom);
        var domain = mailbox.Domain;
        return allowed.Contains(domain, StringComparer.OrdinalIgnoreCase) ? null
            : $"from '{mailbox.Address}' is not in a domain its channel may send as ({string.Join(", ", allowed)}; allow_from in runner.yaml adds domains)";
    }

    /// <summary>The domain of the channel's own sender, then its <c>allow_from</c> domains.</summary>
    public static IReadOnlyList<string> Allowed(string channelFrom, string? allowFrom)
    {
        var domains = new List<string>();
        if (MimeKit.MailboxAddress.TryParse(channelFrom, out var own) && own.Domain is { Length: > 0 } domain)
        {
            domains.Add(domain);
        }

        domains.AddRange((allowFrom ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return domains;
    }
}
