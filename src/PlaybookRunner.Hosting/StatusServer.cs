using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;


namespace PlaybookRunner.Hosting;

/// <summary>
/// The daemon's HTTP endpoint (127.0.0.1 by default): <c>/healthz</c>, <c>/metrics</c> (Prometheus text)
/// and <c>/</c>, a status page. Read-only; it never changes what the daemon does.
/// </summary>
internal sealed class StatusServer(Daemon daemon, Uri prefix, TimeProvider time, ILogger logger) : IDisposable
{
    private readonly HttpListener _listener = new();
    private Task? _loop;

    public Uri Prefix => prefix;

    /// <summary>Starts listening; throws <see cref="HttpListenerException"/> when the address is taken.</summary>
    public void Start()
    {
        _listener.Prefixes.Add(prefix.ToString());
        _listener.Start();
        _loop = Task.Run(LoopAsync);
        logger.LogInformation("Status page on {Prefix} (/healthz, /metrics)", prefix);
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            try
            {
                Respond(context);
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException or InvalidOperationException)
            {
                logger.LogDebug("Status request failed: {Error}", ex.Message);
            }
        }
    }

    private void Respond(HttpListenerContext context)
    {
        var response = context.Response;
        var now = time.GetUtcNow();
        var (status, type, body) = context.Request.Url?.AbsolutePath switch
        {
            "/healthz" => daemon.Problems(now) is { Count: > 0 } problems
                ? (503, "text/plain; charset=utf-8", string.Concat(problems.Select(p => "unhealthy: " + Core.Diagnostics.SafeText.OneLine(p) + "\n")))
                : (200, "text/plain; charset=utf-8", "ok\n"),
            "/metrics" => (200, "text/plain; version=0.0.4; charset=utf-8", daemon.Metrics.Render(daemon.Current?.Prepared.Workspace.Playbooks.Select(p => p.Id) ?? [],
                daemon.StoreActions(), daemon.StoreBacklog(now), storeUp: !daemon.StoreDownNow && daemon.StoreLost is null)),
            "/" => (200, "text/html; charset=utf-8", StatusPage.Render(daemon, now, daemon.RecentActions(25))),
            _ => (404, "text/plain; charset=utf-8", "not found\n"),
        };
        var bytes = Encoding.UTF8.GetBytes(body);
        response.StatusCode = status;
        response.ContentType = type;
        response.ContentLength64 = bytes.Length;
        response.OutputStream.Write(bytes);
        response.Close();
    }

    public void Dispose()
    {
        if (_listener.IsListening)
        {
            _listener.Stop();
        }

        _listener.Close();
        _loop?.Wait(TimeSpan.FromSeconds(5));
    }
}
