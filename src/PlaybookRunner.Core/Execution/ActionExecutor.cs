using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using PlaybookRunner.Abstractions;
using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Plugins;
using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Core.Execution;

/// <summary>
/// Executes one recorded action once and classifies the result: HTTP 2xx ok; 408, 429, 5xx and
/// network errors transient (with Retry-After); other 4xx permanent. SMTP 4yz transient, 5yz permanent.
/// Every sink gets the idempotency key: webhooks as Idempotency-Key and webhook-id headers, emails as
/// the Message-Id, file lines as "id" (the file sink itself skips a key it already wrote).
/// </summary>
internal sealed class ActionExecutor(WorkspaceDefinition workspace, PluginCatalog catalog, Secrets secrets, HttpClient http, TimeProvider time) : IAsyncDisposable
{
    /// <summary>Connected SMTP clients between messages, per server and login: a run or a daemon pass reuses them (one per lane slot at most).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, System.Collections.Concurrent.ConcurrentBag<SmtpClient>> _idle = new(StringComparer.Ordinal);

    public async Task<AttemptOutcome> ExecuteAsync(ActionRecord record, CancellationToken cancellationToken)
    {
        ActionPayload payload;
        try
        {
            payload = ActionPayload.FromJson(record.Payload);
        }
        catch (JsonException ex)
        {
            return AttemptOutcome.Permanent($"the stored payload is not readable: {ex.Message}");
        }

        try
        {
            var kind = ActionKind.Of(payload.Type);
            var outcome = await (kind == ActionKind.File ? WriteFileAsync(record, payload, cancellationToken)
                : kind == ActionKind.Webhook ? PostWebhookAsync(record, payload, cancellationToken)
                : kind == ActionKind.Email ? SendEmailAsync(record, payload, cancellationToken)
                : RunPluginAsync(record, payload, cancellationToken));
            return outcome with { Message = secrets.Scrub(outcome.Message) };
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return AttemptOutcome.Retry(secrets.Scrub($"{ex.GetType().Name}: {ex.Message.TrimEnd('.')}"));
        }
    }

    private async Task<AttemptOutcome> WriteFileAsync(ActionRecord record, ActionPayload payload, CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(Path.Combine(payload.BaseDirectory, payload.Field("path") ?? ActionKind.File.DefaultOutputPath));
        if (Loading.OutputPaths.Problem(path, payload.Field("path") ?? "", workspace) is { } problem)
        {
            // Checked again at execution: plan reports it too, but the file system may have changed since.
            return AttemptOutcome.Permanent(problem);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        RepairTail(path);
        if (File.Exists(path) && (await TailAsync(path, cancellationToken)).Contains(Marker(record), StringComparison.Ordinal))
        {
            return AttemptOutcome.Ok($"already in {Path.GetFileName(path)}");
        }

        var line = Line(record, payload);
        await using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, 4096, FileOptions.WriteThrough);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(line), cancellationToken);
        await stream.FlushAsync(cancellationToken);
        return AttemptOutcome.Ok($"appended to {Path.GetFileName(path)}");
    }

    /// <summary>
    /// Appends a batch of claimed file actions (<see cref="RunExecutor"/>), each after its attempt was recorded: one
    /// write and one sync per file, not per line. A line is looked for in its file first only when its action was
    /// attempted before (its attempt numbered above 1): a first attempt's row was durable before any line was
    /// written, so a first attempt cannot have written one. <paramref name="sending"/> is told each action's index right
    /// before its file is written. The outcomes in the order of <paramref name="batch"/>.
    /// </summary>
    public async Task<AttemptOutcome[]> WriteFilesAsync(IReadOnlyList<(ActionRecord Claim, int Attempt)> batch, Action<int> sending, CancellationToken cancellationToken)
    {
        var outcomes = new AttemptOutcome[batch.Count];
        var files = new Dictionary<string, List<(int Index, ActionPayload Payload)>>(StringComparer.Ordinal);

        for (var i = 0; i < batch.Count; i++)
        {
            var (claim, _) = batch[i];
            ActionPayload payload;
            try
            {
                payload = ActionPayload.FromJson(claim.Payload);
            }
            catch (JsonException ex)
            {
                outcomes[i] = AttemptOutcome.Permanent($"the stored payload is not readable: {ex.Message}");
                continue;
            }

            var path = Path.GetFullPath(Path.Combine(payload.BaseDirectory, payload.Field("path") ?? ActionKind.File.DefaultOutputPath));
            if (!files.TryGetValue(path, out var lines))
            {
                files[path] = lines = [];
            }

            lines.Add((i, payload));
        }

        foreach (var (path, lines) in files)
        {
            foreach (var (i, _) in lines)
            {
                sending(i);
            }

            // Checked right before the write, as for one action: the file system may have changed since the plan.
            if (Loading.OutputPaths.Problem(path, lines[0].Payload.Field("path") ?? "", workspace) is { } problem)
            {
                foreach (var (i, _) in lines)
                {
                    outcomes[i] = AttemptOutcome.Permanent(problem);
                }

                continue;
            }

            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                RepairTail(path);
                var tail = lines.Any(l => batch[l.Index].Attempt > 1) && File.Exists(path) ? await TailAsync(path, cancellationToken) : "";
                var text = new StringBuilder();
                foreach (var (i, payload) in lines)
                {
                    var claim = batch[i].Claim;
                    if (batch[i].Attempt > 1 && tail.Contains(Marker(claim), StringComparison.Ordinal))
                    {
                        outcomes[i] = AttemptOutcome.Ok($"already in {Path.GetFileName(path)}");
                        continue;
                    }

                    text.Append(Line(claim, payload));
                    outcomes[i] = AttemptOutcome.Ok($"appended to {Path.GetFileName(path)}");
                }

                await using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, 4096, FileOptions.WriteThrough);
                await stream.WriteAsync(Encoding.UTF8.GetBytes(text.ToString()), cancellationToken);
                await stream.FlushAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Part of the lines may be in the file: each is retried on its own, which looks for it first.
                foreach (var (i, _) in lines)
                {
                    outcomes[i] = AttemptOutcome.Retry(secrets.Scrub($"{ex.GetType().Name}: {ex.Message.TrimEnd('.')}"));
                }
            }
        }

        return outcomes;
    }

    /// <summary>How every line a file action writes starts.</summary>
    private static readonly byte[] LineStart = Encoding.UTF8.GetBytes("{\"playbook\":");

    /// <summary>
    /// Makes <paramref name="path"/> end with a line break before lines are appended or looked for. A process killed while
    /// it wrote can leave the last line cut short (a write is cut at a page when the process is killed): that part of one
    /// of our lines is removed, since its action is attempted again and writes it whole (looked for only after this, so a
    /// cut line is never taken for a written one). Any other text without a final line break (the file's own) is kept and
    /// given one, so that appended lines stay lines of their own.
    /// </summary>
    private static void RepairTail(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        if (stream.Length == 0)
        {
            return;
        }

        // The usual case, a file ending with a line break, costs one byte read.
        stream.Position = stream.Length - 1;
        if (stream.ReadByte() == '\n')
        {
            return;
        }

        var size = (int)Math.Min(stream.Length, TailBytes);
        var tail = new byte[size];
        stream.Position = stream.Length - size;
        stream.ReadExactly(tail);

        var lastBreak = Array.LastIndexOf(tail, (byte)'\n');
        var fragment = tail.AsSpan(lastBreak + 1);
        if (fragment.Length <= LineStart.Length ? LineStart.AsSpan().StartsWith(fragment) : fragment.StartsWith(LineStart))
        {
            stream.SetLength(stream.Length - fragment.Length);
        }
        else
        {
            stream.Position = stream.Length;
            stream.WriteByte((byte)'\n');
        }

        stream.Flush(flushToDisk: true);
    }

    private static string Marker(ActionRecord record) => $"\"id\":{JsonSerializer.Serialize(record.IdempotencyKey)}";

    private static string Line(ActionRecord record, ActionPayload payload) => JsonSerializer.Serialize(new Dictionary<string, string?>
    {
        ["playbook"] = record.Playbook,
        ["rule"] = record.Rule,
        ["key"] = record.Key,
        ["severity"] = payload.Severity,
        ["body"] = payload.Field("body"),
        ["at"] = DateFormats.FormatStored(record.FiredAt),
        ["id"] = record.IdempotencyKey,
    }) + "\n";

    /// <summary>A retried action is recent, so the last 256 KiB of the file are enough to find it.</summary>
    private static async Task<string> TailAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(Math.Max(0, stream.Length - TailBytes), SeekOrigin.Begin);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync(cancellationToken);
    }

    /// <summary>How much of a file's end a retried line is looked for in; a batch of file actions writes less than half of it.</summary>
    public const int TailBytes = 256 * 1024;

    private async Task<AttemptOutcome> PostWebhookAsync(ActionRecord record, ActionPayload payload, CancellationToken cancellationToken)
    {
        string? url = payload.Field("url");
        var headers = new List<(string, string)>();
        byte[]? signingKey = null;
        if (payload.Field("channel") is { } name)
        {
            if (!workspace.Channels.TryGetValue(name, out var channel) || channel.Kind != ActionKind.Webhook.ChannelKind)
            {
                return AttemptOutcome.Permanent($"webhook channel '{name}' is not defined in runner.yaml");
            }

            if (!Resolve(channel.Settings.GetValueOrDefault("url") ?? "", out url, out var missing))
            {
                return AttemptOutcome.Permanent($"environment variable '{missing}' is not set");
            }

            foreach (var (header, value) in ChannelHeaders(channel))
            {
                if (!Resolve(value, out var resolved, out missing))
                {
                    return AttemptOutcome.Permanent($"environment variable '{missing}' is not set");
                }

                headers.Add((header, resolved));
            }

            if (channel.Settings.GetValueOrDefault("signing_secret") is { } secretText)
            {
                if (!Resolve(secretText, out var secret, out missing))
                {
                    return AttemptOutcome.Permanent($"environment variable '{missing}' is not set");
                }

                if (SigningKey(secret) is not { } key)
                {
                    return AttemptOutcome.Permanent($"the signing_secret of webhook channel '{name}' is not a whsec_ secret (base64 after the prefix); nothing was sent");
                }

                signingKey = key;
            }
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            return AttemptOutcome.Permanent($"'{url}' is not an absolute http or https URL");
        }

        var body = payload.Field("body") ?? "{}";
        using var request = new HttpRequestMessage(HttpMethod.Post, uri)
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        foreach (var (header, value) in headers.Concat(payload.Headers.Select(h => (h.Key, h.Value))))
        {
            if (ControlCharacter(header, value) is { } problem)
            {
                return AttemptOutcome.Permanent(problem);
            }

            if (ActionRules.ReservedHeaders.Contains(header))
            {
                return AttemptOutcome.Permanent($"header '{header}' is set by the HTTP client or the engine, not by a playbook; nothing was sent");
            }

            request.Headers.TryAddWithoutValidation(header, value);
        }

        var id = HeaderSafe(record.IdempotencyKey);
        request.Headers.TryAddWithoutValidation("Idempotency-Key", id);
        request.Headers.TryAddWithoutValidation("webhook-id", id);
        if (record.Fence > 0)
        {
            // Receivers that keep the highest token per key can refuse a stale runner's late request.
            request.Headers.TryAddWithoutValidation("X-Playbook-Fencing-Token", record.Fence.ToString(CultureInfo.InvariantCulture));
        }

        // The attempt's time, as Standard Webhooks define it: receivers refuse a signature whose timestamp is far from now.
        var timestamp = time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp);
        if (signingKey is not null)
        {
            request.Headers.TryAddWithoutValidation("webhook-signature", "v1," + Convert.ToBase64String(HMACSHA256.HashData(signingKey, Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}"))));
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            return AttemptOutcome.Retry($"{Redact(uri)}: {ex.Message.TrimEnd('.')}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return AttemptOutcome.Retry($"{Redact(uri)}: timed out");
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            var text = $"{Redact(uri)}: HTTP {status} {response.ReasonPhrase}";
            if (response.IsSuccessStatusCode)
            {
                return AttemptOutcome.Ok(text);
            }

            var retryAfter = response.Headers.RetryAfter is { } ra ? ra.Delta ?? (ra.Date is { } d ? d - time.GetUtcNow() : null) : null;
            return status is 408 or 429 or >= 500 ? AttemptOutcome.Retry(text, retryAfter) : AttemptOutcome.Permanent(text);
        }
    }

    /// <summary>
    /// A header value (or name) with a control character, CR and LF above all, could end the header and
    /// start another (a customer's name adding a Bcc or a second request): such an action is never sent.
    /// </summary>
    private static string? ControlCharacter(string header, string value) =>
        header.Any(char.IsControl) || value.Any(c => char.IsControl(c) && c != '\t')
            ? $"header '{string.Concat(header.Where(c => !char.IsControl(c)))}' contains a control character (U+{(int)header.Concat(value).First(c => char.IsControl(c) && c != '\t'):X4}); nothing was sent"
            : null;

    /// <summary>Says goodbye to an SMTP server after it accepted the message; a stall or an error there is no failure.</summary>
    private static async Task QuitAsync(SmtpClient client, TimeSpan timeout)
    {
        using var quit = new CancellationTokenSource(timeout < TimeSpan.FromSeconds(5) ? timeout : TimeSpan.FromSeconds(5));
        try
        {
            await client.DisconnectAsync(true, quit.Token);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Delivered already; the connection is closed on dispose.
        }
    }

    private static IEnumerable<(string Name, string Value)> ChannelHeaders(ChannelDefinition channel) =>
        channel.Settings.Where(s => s.Key.StartsWith("headers.", StringComparison.Ordinal)).Select(s => (s.Key["headers.".Length..], s.Value));

    private async Task<AttemptOutcome> SendEmailAsync(ActionRecord record, ActionPayload payload, CancellationToken cancellationToken)
    {
        var name = payload.Field("channel") ?? "default";
        if (!workspace.Channels.TryGetValue(name, out var channel) || channel.Kind != "smtp")
        {
            return AttemptOutcome.Permanent($"smtp channel '{name}' is not defined in runner.yaml");
        }

        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in channel.Settings)
        {
            if (!Resolve(value, out var resolved, out var missing))
            {
                return AttemptOutcome.Permanent($"environment variable '{missing}' is not set");
            }

            settings[key] = resolved;
        }

        if (ControlCharacter("Subject", payload.Field("subject") ?? "") is { } subjectProblem)
        {
            return AttemptOutcome.Permanent(subjectProblem);
        }

        // Checked again here, not only in plan's preflight: a saved plan is a file, and whom the channel sends as is the operator's.
        var channelFrom = settings.GetValueOrDefault("from") ?? "";
        if (payload.Field("from") is { } ownFrom && EmailSender.Problem(ownFrom, channelFrom, settings.GetValueOrDefault("allow_from")) is { } senderProblem)
        {
            return AttemptOutcome.Permanent(senderProblem);
        }

        var unsubscribe = payload.Field("list_unsubscribe");
        if (unsubscribe is not null && ActionRules.UnsubscribeProblem(unsubscribe) is not null)
        {
            return AttemptOutcome.Permanent("list_unsubscribe is not one https: URL or mailto: address");
        }

        MimeMessage message;
        try
        {
            message = new MimeMessage();
            message.From.Add(MailboxAddress.Parse(payload.Field("from") ?? channelFrom));
            message.To.AddRange(Addresses(payload.Field("to")));
            message.Cc.AddRange(Addresses(payload.Field("cc")));
            message.Bcc.AddRange(Addresses(payload.Field("bcc")));
            message.ReplyTo.AddRange(Addresses(payload.Field("reply_to")));
            message.Subject = payload.Field("subject") ?? "";
            message.MessageId = $"{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(record.IdempotencyKey)))[..32]}@playbookrunner";
            message.Headers.Add("X-Playbook-Idempotency-Key", HeaderSafe(record.IdempotencyKey));
            if (unsubscribe is not null)
            {
                // RFC 2369; with an https target, RFC 8058 one-click (mail clients POST "List-Unsubscribe=One-Click" to it).
                message.Headers.Add("List-Unsubscribe", $"<{unsubscribe}>");
                if (unsubscribe.StartsWith("https:", StringComparison.OrdinalIgnoreCase))
                {
                    message.Headers.Add("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
                }
            }

            message.Body = payload.Field("html_body") is { } htmlBody
                ? new MultipartAlternative { new TextPart("plain") { Text = payload.Field("body") ?? "" }, new TextPart("html") { Text = htmlBody } }
                : new TextPart(payload.Html ? "html" : "plain") { Text = payload.Field("body") ?? "" };
        }
        catch (ParseException ex)
        {
            return AttemptOutcome.Permanent($"bad address: {ex.Message.TrimEnd('.')}");
        }

        if (message.To.Count == 0)
        {
            return AttemptOutcome.Permanent("no recipient: 'to' rendered empty");
        }

        var host = settings.GetValueOrDefault("host") ?? "localhost";
        var port = int.TryParse(settings.GetValueOrDefault("port"), NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? p : 25;
        var tls = settings.GetValueOrDefault("tls") switch
        {
            "ssl" => SecureSocketOptions.SslOnConnect,
            "starttls" => SecureSocketOptions.StartTls,
            _ => SecureSocketOptions.None,
        };
        // timeout_seconds bounds every step of the conversation, as it bounds a webhook request.
        var timeout = workspace.ExecutionOptions.Timeout;
        var user = settings.GetValueOrDefault("username");
        var pool = $"{host}\n{port.ToString(CultureInfo.InvariantCulture)}\n{tls}\n{user}";
        SmtpClient? client = null;
        try
        {
            client = await ConnectionAsync(pool, timeout, cancellationToken);
            if (client is null)
            {
                client = new SmtpClient { Timeout = (int)Math.Min(timeout.TotalMilliseconds, int.MaxValue) };
                await client.ConnectAsync(host, port, tls, cancellationToken);
                if (user is { Length: > 0 })
                {
                    await client.AuthenticateAsync(user, settings.GetValueOrDefault("password") ?? "", cancellationToken);
                }
            }

            var reply = await client.SendAsync(message, cancellationToken);
            // The server accepted the message (its reply after DATA): it is delivered, whatever happens to the
            // connection next. It is kept for the next message; QUIT is sent when the run or pass ends, and a server
            // that stalls or drops the line then changes nothing.
            _idle.GetOrAdd(pool, _ => []).Add(client);
            client = null;
            return AttemptOutcome.Ok($"sent to {string.Join(", ", message.To.Mailboxes.Select(m => m.Address))} via {host}:{port}: {reply.Trim()}");
        }
        catch (SmtpCommandException ex)
        {
            var code = (int)ex.StatusCode;
            var text = $"SMTP {code}: {ex.Message.Trim().TrimEnd('.')}";
            return code is >= 400 and < 500 ? AttemptOutcome.Retry(text) : AttemptOutcome.Permanent(text);
        }
        catch (AuthenticationException ex)
        {
            return AttemptOutcome.Permanent($"SMTP authentication failed: {ex.Message.TrimEnd('.')}");
        }
        catch (Exception ex) when (ex is SmtpProtocolException or IOException or SocketException or ServiceNotConnectedException)
        {
            return AttemptOutcome.Retry($"SMTP {host}:{port}: {ex.Message.TrimEnd('.')}");
        }
        finally
        {
            // A connection that failed is not reused.
            client?.Dispose();
        }
    }

    /// <summary>An idle connection to the same server and login that still answers (NOOP), or null: connect afresh.</summary>
    private async Task<SmtpClient?> ConnectionAsync(string pool, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!_idle.TryGetValue(pool, out var idle))
        {
            return null;
        }

        while (idle.TryTake(out var client))
        {
            try
            {
                if (client.IsConnected)
                {
                    using var probe = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    probe.CancelAfter(timeout);
                    await client.NoOpAsync(probe.Token);
                    return client;
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException && !cancellationToken.IsCancellationRequested)
            {
                // Closed by the server while idle: connect afresh.
            }

            client.Dispose();
        }

        return null;
    }

    /// <summary>Says QUIT on every idle SMTP connection (a stalling server gets at most 5 s, or timeout_seconds) and closes it.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var idle in _idle.Values)
        {
            while (idle.TryTake(out var client))
            {
                await QuitAsync(client, workspace.ExecutionOptions.Timeout);
                client.Dispose();
            }
        }
    }

    private static IEnumerable<MailboxAddress> Addresses(string? text) =>
        string.IsNullOrWhiteSpace(text)
            ? []
            : text.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(MailboxAddress.Parse);

    private async Task<AttemptOutcome> RunPluginAsync(ActionRecord record, ActionPayload payload, CancellationToken cancellationToken)
    {
        if (!catalog.Actions.TryGetValue(payload.Type, out var provider))
        {
            return AttemptOutcome.Permanent($"no plugin provides action type '{payload.Type}'");
        }

        var outcome = await provider.Plugin.ExecuteAsync(new ActionRequest(record.IdempotencyKey, payload.Fields, record.Playbook, record.Rule, record.Key), cancellationToken);
        return outcome.Status switch
        {
            ActionStatus.Succeeded => AttemptOutcome.Ok(outcome.Message),
            ActionStatus.Transient => AttemptOutcome.Retry(outcome.Message, outcome.RetryAfter),
            _ => AttemptOutcome.Permanent(outcome.Message),
        };
    }

    private bool Resolve(string text, out string resolved, out string? missing) => secrets.TryResolve(text, out resolved, out missing);

    /// <summary>A Standard Webhooks secret's key: the base64 after <c>whsec_</c>; null when it is not one.</summary>
    private static byte[]? SigningKey(string secret)
    {
        var text = secret.StartsWith("whsec_", StringComparison.Ordinal) ? secret["whsec_".Length..] : null;
        var buffer = new byte[text?.Length ?? 0];
        return text is { Length: > 0 } && Convert.TryFromBase64String(text, buffer, out var written) && written >= 16 ? buffer[..written] : null;
    }

    /// <summary>Header values must be ASCII: non-ASCII characters of a key are percent-encoded.</summary>
    internal static string HeaderSafe(string value) =>
        value.All(c => c is >= ' ' and <= '~') ? value : Uri.EscapeDataString(value);

    private static string Redact(Uri uri) => $"{uri.Scheme}://{uri.Authority}{uri.AbsolutePath}";
}
