using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace PlaybookRunner.Hosting;

/// <summary>
/// Runs the daemon's scheduler and worker loops inside the generic host. On stop (SIGTERM, Ctrl+C,
/// systemd stop) it takes no new work, lets the action in flight finish within the host's shutdown
/// timeout, and otherwise abandons it: it stays pending and is retried with the same key.
/// </summary>
internal sealed class DaemonService(Daemon daemon, StatusServer? server, IHostApplicationLifetime lifetime, ILogger<DaemonService> logger) : IHostedService
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _abort = new();
    private Task? _loops;

    /// <summary>The exit code: 0 after a clean stop, 1 when the daemon could not start.</summary>
    public int ExitCode { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!daemon.Start())
        {
            ExitCode = DaemonHost.Errors;
            lifetime.StopApplication();
            return Task.CompletedTask;
        }

        try
        {
            server?.Start();
        }
        catch (System.Net.HttpListenerException ex)
        {
            logger.LogError("Cannot listen on {Prefix}: {Error}", server!.Prefix, Core.Diagnostics.SafeText.OneLine(ex.Message));
            ExitCode = DaemonHost.Errors;
            lifetime.StopApplication();
            return Task.CompletedTask;
        }

        _loops = Task.WhenAll(
            Task.Run(() => Guard(daemon.RunSchedulerAsync(_stopping.Token), "scheduler")),
            Task.Run(() => Guard(daemon.RunWorkerAsync(_stopping.Token, _abort.Token), "worker")));
        return Task.CompletedTask;
    }

    private async Task Guard(Task loop, string name)
    {
        try
        {
            await loop;
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A bug, not bad input: stop the daemon (systemd restarts it) rather than run half-alive.
            logger.LogCritical("The {Loop} loop stopped: {Type}: {Error}", name, ex.GetType().Name, Core.Diagnostics.SafeText.OneLine(ex.Message));
            ExitCode = DaemonHost.Errors;
            lifetime.StopApplication();
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_loops is null)
        {
            daemon.Dispose();
            return;
        }

        logger.LogInformation("Stopping: no new work is taken; waiting for the action in flight");
        await _stopping.CancelAsync();
        await using (cancellationToken.Register(_abort.Cancel))
        {
            await _loops;
        }

        server?.Dispose();
        daemon.Dispose();
        logger.LogInformation("Stopped");
    }
}
