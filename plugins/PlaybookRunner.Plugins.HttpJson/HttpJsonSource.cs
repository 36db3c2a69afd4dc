using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using PlaybookRunner.Abstractions;
using Polly;
using Polly.Retry;

namespace PlaybookRunner.Plugins.HttpJson;

/// <summary>
/// Source kind <c>http-json</c>: records from a paged JSON REST API. Pages follow a next link
/// (<c>next: links.next</c>) or a page number parameter (<c>page_param: page</c>); a bearer token comes
/// from <c>token: ${env:NAME}</c>; 429, 408 and 5xx answers and network errors are retried with
/// exponential backoff and jitter, honouring Retry-After.
/// </summary>
public sealed class HttpJsonSource : ISourcePlugin
{
    private static readonly string[] Known = ["url", "items", "next", "page_param", "first_page", "page_size_param", "page_size", "token", "max_pages", "retries", "backoff_ms", "timeout_seconds"];

    /// <inheritdoc />
    public string Kind => "http-json";

    /// <inheritdoc />
    public IReadOnlyList<OptionProblem> ValidateOptions(SourceOptions options)
    {
        var problems = new List<OptionProblem>();
        foreach (var name in options.Values.Keys.Where(k => !Known.Contains(k)))
        {
            problems.Add(new(name, $"unknown option '{name}'; known: {string.Join(", ", Known)}"));
        }

        var url = options.Get("url");
        if (url is null)
        {
            problems.Add(new("url", "http-json sources need a url"));
        }
        else if (!url.Contains("${env:", StringComparison.Ordinal) && (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
        {
            problems.Add(new("url", $"'{url}' is not an absolute http or https URL"));
        }

        if (options.Get("next") is not null && options.Get("page_param") is not null)
        {
            problems.Add(new("next", "use either next (a next-link path) or page_param (a page number parameter), not both"));
        }

        foreach (var name in new[] { "first_page", "page_size", "max_pages", "retries", "backoff_ms", "timeout_seconds" })
        {
            if (options.Get(name) is { } text && (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || (n < 1 && name is not ("first_page" or "retries" or "backoff_ms"))))
            {
                problems.Add(new(name, $"'{text}' is not a valid {name.Replace('_', ' ')}"));
            }
        }

        return problems;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<SourceRecord> ReadAsync(SourceOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var settings = Settings.From(options);
        using var client = new HttpClient { Timeout = settings.Timeout };
        var pipeline = RetryPipeline(settings.Retries, settings.Backoff);
        var url = settings.Url;
        var page = settings.FirstPage;
        for (var pageIndex = 1; url is not null; pageIndex++)
        {
            if (pageIndex > settings.MaxPages)
            {
                throw new SourceReadException($"more than max_pages ({settings.MaxPages}) pages; raise max_pages if that many are expected");
            }

            var requestUrl = settings.PageParam is null ? url : WithQuery(url, settings.PageParam, page.ToString(CultureInfo.InvariantCulture), settings.PageSizeParam, settings.PageSize);
            using var document = await FetchAsync(client, pipeline, requestUrl, settings.Token, cancellationToken);
            var items = Select(document.RootElement, settings.Items);
            if (items.ValueKind != JsonValueKind.Array)
            {
                throw new SourceReadException($"{Redact(requestUrl)}: expected an array at '{settings.Items ?? "(root)"}' but found {items.ValueKind.ToString().ToLowerInvariant()}");
            }

            var index = 0;
            foreach (var item in items.EnumerateArray())
            {
                index++;
                if (item.ValueKind != JsonValueKind.Object)
                {
                    throw new SourceReadException($"page {pageIndex}, item {index}: expected an object but found {item.ValueKind.ToString().ToLowerInvariant()}");
                }

                var values = new Dictionary<string, object?>(StringComparer.Ordinal);
                Flatten(item, "", values);
                yield return new SourceRecord(values, $"page {pageIndex}, item {index}");
            }

            if (settings.Next is not null)
            {
                var next = Select(document.RootElement, settings.Next);
                url = next.ValueKind == JsonValueKind.String && next.GetString() is { Length: > 0 } link ? new Uri(new Uri(url), link).ToString() : null;
                if (url is not null && !SameOrigin(new Uri(url), new Uri(settings.Url)))
                {
                    // The next link comes from the response: it must not carry the token (or the read) to another host.
                    throw new SourceReadException($"The next link leaves {new Uri(settings.Url).GetLeftPart(UriPartial.Authority)} for {new Uri(url).GetLeftPart(UriPartial.Authority)}; a source reads from its own origin only");
                }
            }
            else if (settings.PageParam is not null)
            {
                url = index == 0 ? null : url;
                page++;
            }
            else
            {
                url = null;
            }
        }
    }

    private static bool SameOrigin(Uri a, Uri b) =>
        string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase) && string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;

    private static async Task<JsonDocument> FetchAsync(HttpClient client, ResiliencePipeline<HttpResponseMessage> pipeline, string url, string? token, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await pipeline.ExecuteAsync(
                async ct =>
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, url);
                    request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
                    if (!string.IsNullOrEmpty(token))
                    {
                        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                    }

                    return await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
                },
                cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new SourceReadException($"{Redact(url)}: {ex.Message.TrimEnd('.')}", ex);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SourceReadException($"{Redact(url)}: timed out", ex);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new SourceReadException($"{Redact(url)}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            try
            {
                return await JsonDocument.ParseAsync(body, default, cancellationToken);
            }
            catch (JsonException ex)
            {
                throw new SourceReadException($"{Redact(url)}: the response is not valid JSON ({ex.Message.Split(" LineNumber", 2)[0].TrimEnd('.')})", ex);
            }
        }
    }

    private static ResiliencePipeline<HttpResponseMessage> RetryPipeline(int retries, TimeSpan backoff)
    {
        if (retries == 0)
        {
            return ResiliencePipeline<HttpResponseMessage>.Empty;
        }

        return new ResiliencePipelineBuilder<HttpResponseMessage>()
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = retries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = backoff,
                MaxDelay = TimeSpan.FromSeconds(30),
                ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                    .Handle<HttpRequestException>()
                    .HandleResult(r => r.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout || (int)r.StatusCode >= 500),
                DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Result)),
                OnRetry = args =>
                {
                    args.Outcome.Result?.Dispose();
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    /// <summary>The server's Retry-After, capped at 60 seconds; null lets the backoff decide.</summary>
    private static TimeSpan? RetryAfter(HttpResponseMessage? response)
    {
        var header = response?.Headers.RetryAfter;
        var delay = header?.Delta ?? (header?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        return delay is { } d ? TimeSpan.FromSeconds(Math.Clamp(d.TotalSeconds, 0, 60)) : null;
    }

    private static JsonElement Select(JsonElement root, string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return root;
        }

        var current = root;
        foreach (var part in path.Split('.'))
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(part, out current))
            {
                return default;
            }
        }

        return current;
    }

    private static void Flatten(JsonElement item, string prefix, Dictionary<string, object?> values)
    {
        foreach (var property in item.EnumerateObject())
        {
            var name = prefix + property.Name;
            if (property.Value.ValueKind == JsonValueKind.Object)
            {
                Flatten(property.Value, name + ".", values);
            }
            else
            {
                values[name] = ToRaw(property.Value);
            }
        }
    }

    private static object? ToRaw(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Number => value.TryGetInt64(out var l) ? l : value.TryGetDecimal(out var d) ? d : value.GetDouble(),
        JsonValueKind.Array => value.EnumerateArray().Select(ToRaw).ToList(),
        _ => null,
    };

    private static string WithQuery(string url, string name, string value, string? sizeName, int? size)
    {
        var builder = new UriBuilder(url);
        var query = builder.Query.TrimStart('?');
        var parts = query.Length == 0 ? new List<string>() : [.. query.Split('&')];
        parts.RemoveAll(p => p.StartsWith(name + "=", StringComparison.Ordinal) || (sizeName is not null && p.StartsWith(sizeName + "=", StringComparison.Ordinal)));
        parts.Add($"{Uri.EscapeDataString(name)}={Uri.EscapeDataString(value)}");
        if (sizeName is not null && size is { } s)
        {
            parts.Add($"{Uri.EscapeDataString(sizeName)}={s.ToString(CultureInfo.InvariantCulture)}");
        }

        builder.Query = string.Join("&", parts);
        return builder.Uri.ToString();
    }

    /// <summary>A URL for messages: without user info or query string, which may hold credentials.</summary>
    private static string Redact(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) ? $"{uri.Scheme}://{uri.Authority}{uri.AbsolutePath}" : "(url)";

    private sealed record Settings(string Url, string? Items, string? Next, string? PageParam, int FirstPage, string? PageSizeParam, int? PageSize, string? Token, int MaxPages, int Retries, TimeSpan Backoff, TimeSpan Timeout)
    {
        public static Settings From(SourceOptions o)
        {
            int Int(string name, int fallback) => o.Get(name) is { } t ? int.Parse(t, CultureInfo.InvariantCulture) : fallback;
            return new Settings(
                o.Get("url") ?? throw new SourceReadException("http-json sources need a url"),
                o.Get("items"),
                o.Get("next"),
                o.Get("page_param"),
                Int("first_page", 1),
                o.Get("page_size_param"),
                o.Get("page_size") is null ? null : Int("page_size", 100),
                o.Get("token"),
                Int("max_pages", 1000),
                Int("retries", 5),
                TimeSpan.FromMilliseconds(Int("backoff_ms", 500)),
                TimeSpan.FromSeconds(Int("timeout_seconds", 30)));
        }
    }
}
