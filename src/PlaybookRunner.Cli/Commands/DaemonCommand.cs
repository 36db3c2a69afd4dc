using System.CommandLine;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using PlaybookRunner.Cli.Daemon;
using PlaybookRunner.Core.Scheduling;

namespace PlaybookRunner.Cli.Commands;

/// <summary><c>playbook daemon</c>: run every playbook on its schedule until stopped.</summary>
internal static class DaemonCommand
{
    public static Command Create(TextWriter stderr, TimeProvider time)
    {
        var paths = CliApp.PathsArgument();
        var listen = new Option<string>("--listen")
        {
            Description = "Address of /healthz, /metrics and the status page: HOST:PORT, or 'none' (default 127.0.0.1:9464)",
            DefaultValueFactory = _ => "127.0.0.1:9464",
        };
        var logFormat = new Option<string>("--log-format")
        {
            Description = "Log format on the console: text or json (one JSON object per line)",
            DefaultValueFactory = _ => "text",
        };
        logFormat.AcceptOnlyFromAmong("text", "json");
        var poll = new Option<int>("--poll")
        {
            Description = "Seconds between looks for edited playbooks and unclaimed work (default 2; at most half the lease)",
            DefaultValueFactory = _ => 2,
        };
        poll.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 3600)
            {
                result.AddError("--poll must be between 1 and 3600 seconds");
            }
        });
        var shutdown = new Option<int>("--shutdown-timeout")
        {
            Description = "Seconds to let the action in flight finish on stop before abandoning it (it stays pending; default 30)",
            DefaultValueFactory = _ => 30,
        };

        var isolation = new Option<string>("--isolation")
        {
            Description = "Where each tick is evaluated: worker (a process killed past its time or memory limit; default) or none (in the daemon's process)",
            DefaultValueFactory = _ => "worker",
        };
        isolation.AcceptOnlyFromAmong("worker", "none");

        var reviewed = new Option<string?>("--reviewed-plans")
        {
            Description = "Reviewed-only mode: evaluate no schedule; execute each saved plan (*.plan.json) put into this folder, as run --plan does, then move it to applied/ or refused/",
        };

        var create = new Option<bool>("--create-store")
        {
            Description = "Create the state store at start if it does not exist (first start); without it a missing store stops the start, never a fresh start",
        };

        var command = new Command("daemon", "Run every playbook on its schedule until stopped; reload edited playbooks that validate.") { paths, listen, logFormat, poll, shutdown, isolation, reviewed, create };
        command.SetAction(async (result, cancellationToken) =>
        {
            Uri? prefix = null;
            var address = result.GetValue(listen)!;
            if (address != "none" && !TryPrefix(address, out prefix))
            {
                stderr.WriteLine($"playbook: error PB1024: --listen '{address}' is not HOST:PORT (for example 127.0.0.1:9464) or none");
                return CliApp.Usage;
            }

            var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            builder.Logging.SetMinimumLevel(LogLevel.Information);
            if (result.GetValue(logFormat) == "json")
            {
                builder.Logging.AddJsonConsole(o =>
                {
                    o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fffK";
                    o.UseUtcTimestamp = true;
                });
            }
            else
            {
                builder.Logging.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss'Z' ";
                    o.UseUtcTimestamp = true;
                });
            }

            builder.Services.AddSystemd();
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(result.GetValue(shutdown)));
            builder.Services.AddSingleton(time);
            builder.Services.AddSingleton(provider => new Core.Scheduling.Daemon(
                CliApp.PathsOrDefault(result.GetValue(paths)), time, provider.GetRequiredService<ILoggerFactory>().CreateLogger("PlaybookRunner.Daemon"),
                new DaemonOptions(TimeSpan.FromSeconds(result.GetValue(poll)))
                {
                    Worker = result.GetValue(isolation) == "worker" ? EvaluateCommand.Self() : null,
                    ReviewedPlans = result.GetValue(reviewed) is { } folder ? Path.GetFullPath(folder) : null,
                    CreateStore = result.GetValue(create),
                }));
            builder.Services.AddSingleton(provider => prefix is null
                ? null!
                : new StatusServer(provider.GetRequiredService<Core.Scheduling.Daemon>(), prefix, time, provider.GetRequiredService<ILoggerFactory>().CreateLogger("PlaybookRunner.Status")));
            builder.Services.AddSingleton(provider => new DaemonService(
                provider.GetRequiredService<Core.Scheduling.Daemon>(), prefix is null ? null : provider.GetRequiredService<StatusServer>(),
                provider.GetRequiredService<IHostApplicationLifetime>(), provider.GetRequiredService<ILogger<DaemonService>>()));
            builder.Services.AddHostedService(provider => provider.GetRequiredService<DaemonService>());

            using var host = builder.Build();
            var service = host.Services.GetRequiredService<DaemonService>();
            await host.RunAsync(cancellationToken);
            return service.ExitCode;
        });
        return command;
    }

    private static bool TryPrefix(string address, out Uri? prefix)
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
