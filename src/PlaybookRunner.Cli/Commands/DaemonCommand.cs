using System.CommandLine;
using PlaybookRunner.Core;
using PlaybookRunner.Hosting;
using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Cli.Commands;

/// <summary><c>playbook daemon</c>: run every playbook on its schedule until stopped.</summary>
internal static class DaemonCommand
{
    public static Command Create(TextWriter stderr, EngineOptions engine)
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
            if (address != "none" && !DaemonHost.TryPrefix(address, out prefix))
            {
                CliApp.Report(stderr, DiagnosticDescriptors.BadInvocation, $"--listen '{address}' is not HOST:PORT (for example 127.0.0.1:9464) or none");
                return CliApp.Usage;
            }

            var options = new DaemonHostOptions(
                CliApp.PathsOrDefault(result.GetValue(paths)), prefix, result.GetValue(logFormat) == "json", TimeSpan.FromSeconds(result.GetValue(shutdown)),
                new DaemonOptions(TimeSpan.FromSeconds(result.GetValue(poll)))
                {
                    Worker = result.GetValue(isolation) == "worker" ? EvaluateCommand.Self() : null,
                    ReviewedPlans = result.GetValue(reviewed) is { } folder ? Path.GetFullPath(folder) : null,
                    CreateStore = result.GetValue(create),
                });
            return await DaemonHost.RunAsync(options, engine, cancellationToken);
        });
        return command;
    }
}
