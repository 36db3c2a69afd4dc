using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PlaybookRunner.Core;

namespace PlaybookRunner.Hosting;

/// <summary>What <c>playbook daemon</c> was asked for, before it is checked (<see cref="DaemonHost.TryPrefix"/>).</summary>
/// <param name="Paths">The workspace folders or playbook files.</param>
/// <param name="Listen">The status endpoint's prefix (http://HOST:PORT/), or null for none.</param>
/// <param name="JsonLogs">One JSON object per log line instead of text.</param>
/// <param name="ShutdownTimeout">How long the action in flight may take to finish on stop.</param>
/// <param name="Daemon">The daemon's own options.</param>
public sealed record DaemonHostOptions(IReadOnlyList<string> Paths, Uri? Listen, bool JsonLogs, TimeSpan ShutdownTimeout, DaemonOptions Daemon);

/// <summary>
/// The daemon inside the generic host: console logs (text or JSON), systemd notification, graceful stop
/// within the shutdown timeout, the daemon's two loops (<see cref="DaemonService"/>) and its HTTP endpoint
/// (<see cref="StatusServer"/>). The CLI's <c>daemon</c> verb parses its arguments and calls <see cref="RunAsync"/>.
/// </summary>
public static class DaemonHost
{
    /// <summary>The exit code of a daemon that could not start or whose loop failed.</summary>
    public const int Errors = 1;

    /// <summary>Runs the daemon until the host stops; returns the exit code (0 after a clean stop).</summary>
    public static async Task<int> RunAsync(DaemonHostOptions options, EngineOptions engine, CancellationToken cancellationToken)
    {
        var time = engine.Time;
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        if (options.JsonLogs)
        {
            builder.Logging.AddJsonConsole(o =>
            {
                o.TimestampFormat = DateFormats.JsonLogTimestamp;
                o.UseUtcTimestamp = true;
            });
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = DateFormats.TextLogTimestamp;
                o.UseUtcTimestamp = true;
            });
        }

        builder.Services.AddSystemd();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);
        builder.Services.AddSingleton(time);
        builder.Services.AddSingleton(provider => new Daemon(
            options.Paths, engine, provider.GetRequiredService<ILoggerFactory>().CreateLogger("PlaybookRunner.Daemon"), options.Daemon));
        builder.Services.AddSingleton(provider => options.Listen is null
            ? null!
            : new StatusServer(provider.GetRequiredService<Daemon>(), options.Listen, time, provider.GetRequiredService<ILoggerFactory>().CreateLogger("PlaybookRunner.Status")));
        builder.Services.AddSingleton(provider => new DaemonService(
            provider.GetRequiredService<Daemon>(), options.Listen is null ? null : provider.GetRequiredService<StatusServer>(),
            provider.GetRequiredService<IHostApplicationLifetime>(), provider.GetRequiredService<ILogger<DaemonService>>()));
        builder.Services.AddHostedService(provider => provider.GetRequiredService<DaemonService>());

        using var host = builder.Build();
        var service = host.Services.GetRequiredService<DaemonService>();
        await host.RunAsync(cancellationToken);
        return service.ExitCode;
    }

    /// <summary>Reads <c>--listen HOST:PORT</c> (an IP address or localhost) as the endpoint's prefix.</summary>
    public static bool TryPrefix(string address, out Uri? prefix)
    {
        prefix = null;
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return false;
        }

        var host = address[..colon].Trim('[', ']');
        if (!IPAddress.TryParse(host, out var ip) && host != "localhost")
        {
            return false;
        }

        var authority = ip is { AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 } ? $"[{ip}]" : host;
        prefix = new Uri($"http://{authority}:{port.ToString(CultureInfo.InvariantCulture)}/");
        return true;
    }
}
