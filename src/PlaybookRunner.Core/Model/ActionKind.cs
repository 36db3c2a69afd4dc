using System.Text.Json;

namespace PlaybookRunner.Core.Model;

/// <summary>Where a template's output lands, which decides how every value written into it is escaped.</summary>
internal enum TemplateSink
{
    /// <summary>Plain text (messages, subjects, plain bodies): written as is.</summary>
    Text,

    /// <summary>An HTML email body: HTML-encoded.</summary>
    Html,

    /// <summary>A webhook body: JSON-escaped inside strings, one JSON value elsewhere.</summary>
    Json,

    /// <summary>A webhook URL: only after the fixed scheme, host and port; percent-encoded.</summary>
    Url,

    /// <summary>A file action's path: one segment at most per value.</summary>
    PathSegment,
}

/// <summary>
/// What the engine knows about one action type, in one place: its channel, where each field's text lands, what a
/// field written without values may not say, what it is summarised as, its delivery lane. The three built-in
/// types (email, webhook, file) each have theirs; a plugin's action type has the defaults, and the plugin
/// declares its fields. Loading, planning, execution and the reports ask the kind instead of switching on the
/// type's name; delivery itself is <c>Execution.ActionExecutor</c>'s, one method per built-in kind.
/// </summary>
internal class ActionKind
{
    public static readonly ActionKind Email = new EmailKind();
    public static readonly ActionKind Webhook = new WebhookKind();
    public static readonly ActionKind File = new FileKind();

    /// <summary>The built-in kinds, in the order the docs list them.</summary>
    public static readonly IReadOnlyList<ActionKind> BuiltIn = [Email, Webhook, File];

    protected ActionKind(string type) => Type = type;

    /// <summary>The <c>type:</c> it answers to.</summary>
    public string Type { get; }

    /// <summary>True for email, webhook and file.</summary>
    public bool IsBuiltIn => BuiltIn.Contains(this);

    /// <summary>The built-in kind of <paramref name="type"/>, or the plugin kind: a plugin's action type.</summary>
    public static ActionKind Of(string type) => type switch
    {
        "email" => Email,
        "webhook" => Webhook,
        "file" => File,
        _ => new ActionKind(type),
    };

    /// <summary>The kind of channel (in runner.yaml) its <c>channel:</c> names; null when it takes no channel.</summary>
    public virtual string? ChannelKind => null;

    /// <summary>The channel used when the action names none; null when none is.</summary>
    public virtual string? DefaultChannel => null;

    /// <summary>True when exactly one of <c>channel:</c> and <c>url:</c> must be given (a webhook).</summary>
    public virtual bool ChannelOrUrl => false;

    /// <summary>The field whose headers a playbook may set (a webhook's <c>headers</c>); null when none.</summary>
    public virtual string? HeadersField => null;

    /// <summary>The field that must fix its URL's scheme, host and port before any value (a webhook's <c>url</c>); null when none.</summary>
    public virtual string? UrlField => null;

    /// <summary>The field naming a file the action writes (a file action's <c>path</c>); null when none.</summary>
    public virtual string? OutputPathField => null;

    /// <summary>The file written when <see cref="OutputPathField"/> is not given.</summary>
    public virtual string DefaultOutputPath => "outbox.jsonl";

    /// <summary>How the reports show its body: json (pretty-printed) or text.</summary>
    public virtual string BodyFormat => "text";

    /// <summary>True when its actions are delivered one at a time (a file's lines keep their order).</summary>
    public virtual bool OneAtATime => false;

    /// <summary>The channel an action of this kind uses, from its <c>channel</c> field or the default; null when it uses none.</summary>
    public string? ChannelOf(string? channelField) => ChannelKind is null ? null : channelField ?? DefaultChannel;

    /// <summary>Where the text of <paramref name="field"/> lands; <paramref name="html"/> is the action's <c>html: true</c>.</summary>
    public virtual TemplateSink Sink(string field, bool html) => TemplateSink.Text;

    /// <summary>What run would fail on in <paramref name="field"/> written without template values (validate reports it); null when nothing.</summary>
    public virtual string? LiteralProblem(string field, string text) => null;

    /// <summary>
    /// What run would certainly fail on in a rendered field (the plan's preflight): a short problem (the same for every key, so
    /// the reports count keys) and the message; null when nothing. <paramref name="template"/> is the field's template text;
    /// <paramref name="knownJson"/> says the text is known to be one JSON value (how it was rendered makes it so), so it is not read again to tell.
    /// </summary>
    public virtual (string Problem, string Message)? RenderedProblem(string field, string text, string template, bool knownJson = false) => null;

    /// <summary>The lane its actions are delivered in, whose concurrency is bounded: a channel, a host, or its type.</summary>
    public virtual string Lane(IReadOnlyDictionary<string, string> fields) => Type;

    /// <summary>One line for the text report.</summary>
    public virtual string Summary(Func<string, string?> field) => Type;

    /// <summary>True when <paramref name="text"/> is one JSON value (as <see cref="JsonDocument"/> reads it), read without building a document.</summary>
    public static bool IsJson(string text)
    {
        var length = System.Text.Encoding.UTF8.GetMaxByteCount(text.Length);
        var rented = length > 4096 ? System.Buffers.ArrayPool<byte>.Shared.Rent(length) : null;
        var buffer = rented ?? stackalloc byte[length];
        try
        {
            var reader = new Utf8JsonReader(buffer[..System.Text.Encoding.UTF8.GetBytes(text, buffer)]);
            while (reader.Read())
            {
            }

            return reader.BytesConsumed > 0;
        }
        catch (JsonException)
        {
            return false;
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>True when the text holds a control character other than a tab (a line break from the data).</summary>
    protected static bool HasControl(string text) =>
        text.AsSpan().IndexOfAnyInRange('\0', '\b') >= 0 || text.AsSpan().IndexOfAnyInRange('\n', '\u001F') >= 0 || text.AsSpan().IndexOfAnyInRange('\u007F', '\u009F') >= 0;

    /// <summary>Data on one line of a report.</summary>
    protected static string OneLine(string? text) => Diagnostics.SafeText.ReportLine(text);

    protected static string Truncate(string text, int max) => text.Length <= max ? text : string.Concat(text.AsSpan(0, max - 3), "...");

    private sealed class EmailKind() : ActionKind("email")
    {
        public override string? ChannelKind => "smtp";

        public override string? DefaultChannel => "default";

        public override TemplateSink Sink(string field, bool html) => (field == "body" && html) || field == "html_body" ? TemplateSink.Html : TemplateSink.Text;

        public override string? LiteralProblem(string field, string text)
        {
            if (field == "list_unsubscribe")
            {
                return ActionRules.UnsubscribeProblem(text) is null ? null : $"'{field}': '{text}' is not an https: URL or a mailto: address";
            }

            if (field is not ("to" or "cc" or "bcc" or "reply_to" or "from"))
            {
                return null;
            }

            var parts = text.Split([',', ';']).Select(p => p.Trim()).ToList();
            if (field == "from" && parts.Count != 1)
            {
                return "'from': one address";
            }

            var bad = parts.FirstOrDefault(p => !MimeKit.MailboxAddress.TryParse(p, out var address) || !address.Address.Contains('@', StringComparison.Ordinal));
            return bad is null ? null : $"'{field}': '{bad}' is not one email address";
        }

        public override (string Problem, string Message)? RenderedProblem(string field, string text, string template, bool knownJson = false) => field switch
        {
            "to" or "cc" or "bcc" or "reply_to" or "from" => Recipients(template, text),
            "subject" when HasControl(text) => ("contains a control character (a line break from the data); nothing would be sent", "contains a control character; nothing would be sent"),
            "list_unsubscribe" => Unsubscribe(template, text),
            _ => null,
        };

        /// <summary>
        /// A List-Unsubscribe target: the template's own text fixes <c>https://host/</c> or <c>mailto:address</c> before any value,
        /// and the rendered text is one absolute https: URL or mailto: URI with no space, control character, '&lt;', '&gt;' or ','.
        /// </summary>
        private static (string, string)? Unsubscribe(string template, string rendered)
        {
            var value = template.IndexOf("{{", StringComparison.Ordinal);
            var literal = value >= 0 ? template[..value] : template;
            var fixedTarget = literal.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ? ActionRules.HasFixedAuthority(literal)
                : literal.StartsWith("mailto:", StringComparison.OrdinalIgnoreCase) && literal.Contains('@', StringComparison.Ordinal) && (value < 0 || literal.Contains('?', StringComparison.Ordinal));
            if (!fixedTarget)
            {
                return ("does not fix its target before any value: write 'https://host/...' or 'mailto:address?...' before any {{ }}",
                    "a value from the data cannot choose where unsubscribing goes: write 'https://host/...' or 'mailto:address?...' before any {{ }}");
            }

            return ActionRules.UnsubscribeProblem(rendered) is { } problem ? (problem, problem) : null;
        }

        public override string Lane(IReadOnlyDictionary<string, string> fields) => "email:" + fields.GetValueOrDefault("channel", "default");

        public override string Summary(Func<string, string?> field) =>
            $"email to {OneLine(field("to"))}{(field("from") is { } from ? $" from {OneLine(from)}" : "")}: \"{OneLine(field("subject"))}\"";

        /// <summary>
        /// A recipient field yields exactly the addresses its template writes: the template's own ',' and ';'
        /// (outside <c>{{ }}</c>) separate them, and each rendered part must be one valid address. A value
        /// from the data cannot add recipients (<c>a@x.com, evil@y.com</c> in a cell) or leave one empty.
        /// </summary>
        private static (string, string)? Recipients(string template, string rendered)
        {
            var written = 1;
            var depth = 0;
            for (var i = 0; i < template.Length; i++)
            {
                if (template.AsSpan(i).StartsWith("{{"))
                {
                    depth++;
                    i++;
                }
                else if (template.AsSpan(i).StartsWith("}}") && depth > 0)
                {
                    depth--;
                    i++;
                }
                else if (depth == 0 && template[i] is ',' or ';')
                {
                    written++;
                }
            }

            var parts = rendered.Split([',', ';']).Select(p => p.Trim()).ToList();
            if (parts.Count != written)
            {
                return ("renders more or fewer addresses than its template writes: a value from the data cannot add or remove recipients",
                    $"renders {parts.Count} addresses where its template writes {written}: a value from the data cannot add recipients");
            }

            foreach (var part in parts)
            {
                if (!MimeKit.MailboxAddress.TryParse(part, out var address) || address.Address.Length == 0 || !address.Address.Contains('@', StringComparison.Ordinal))
                {
                    var shown = part.Length > 80 ? part[..80] + "..." : part.ReplaceLineEndings(" ");
                    return ("renders something that is not one email address (empty, or not an address)",
                        $"renders '{Diagnostics.SafeText.OneLine(shown)}', which is not one email address");
                }
            }

            return null;
        }
    }

    private sealed class WebhookKind() : ActionKind("webhook")
    {
        public override string? ChannelKind => "webhook";

        public override bool ChannelOrUrl => true;

        public override string? HeadersField => "headers";

        public override string? UrlField => "url";

        public override string BodyFormat => "json";

        public override TemplateSink Sink(string field, bool html) => field switch
        {
            "body" => TemplateSink.Json,
            "url" => TemplateSink.Url,
            _ => TemplateSink.Text,
        };

        public override string? LiteralProblem(string field, string text)
        {
            switch (field)
            {
                case "body":
                    try
                    {
                        using var _ = JsonDocument.Parse(text);
                        return null;
                    }
                    catch (JsonException ex)
                    {
                        return $"The webhook body is not valid JSON: {ex.Message}";
                    }

                case "url":
                    return IsHttpUrl(text) ? null : $"'{text}' is not an absolute http or https URL";
                default:
                    return null;
            }
        }

        public override (string Problem, string Message)? RenderedProblem(string field, string text, string template, bool knownJson = false)
        {
            switch (field)
            {
                case "body" when !knownJson && !IsJson(text):
                    try
                    {
                        // Parsed again only to say why, in the parser's own words.
                        using var _ = JsonDocument.Parse(text);
                        return null;
                    }
                    catch (JsonException ex)
                    {
                        return ("is not valid JSON after rendering", $"is not valid JSON after rendering: {ex.Message}");
                    }

                case "url" when !IsHttpUrl(text):
                    return ("is not an absolute http or https URL", $"'{Diagnostics.SafeText.OneLine(text)}' is not an absolute http or https URL");
                default:
                    return null;
            }
        }

        public override string Lane(IReadOnlyDictionary<string, string> fields) =>
            fields.TryGetValue("channel", out var channel) ? "webhook:" + channel
            : "webhook:" + (Uri.TryCreate(fields.GetValueOrDefault("url", ""), UriKind.Absolute, out var url) ? url.Authority : "url");

        public override string Summary(Func<string, string?> field) =>
            $"webhook {(field("channel") is { } c ? $"channel {c}" : OneLine(field("url")))}: {Truncate(OneLine(field("body")), 100)}";

        private static bool IsHttpUrl(string text) => Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https";
    }

    private sealed class FileKind() : ActionKind("file")
    {
        public override string? OutputPathField => "path";

        public override bool OneAtATime => true;

        public override TemplateSink Sink(string field, bool html) => field == "path" ? TemplateSink.PathSegment : TemplateSink.Text;

        public override string Summary(Func<string, string?> field) => $"append to {OneLine(field("path"))}: {Truncate(OneLine(field("body")), 100)}";
    }
}
