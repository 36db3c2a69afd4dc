using PlaybookRunner.Core;
using PlaybookRunner.Core.Execution;

namespace PlaybookRunner.Cli;

/// <summary>The composition root: the only place the engine's clock, environment and process settings come from.</summary>
internal static class Program
{
    internal static int Main(string[] args) => Run(args, observer: null);

    /// <summary>Runs the command line as <c>playbook</c> does; <paramref name="observer"/> is told about each action executed (a test host's).</summary>
    internal static int Run(string[] args, IExecutionObserver? observer)
    {
        PlaybookEngine.ConfigureProcess();
        if (args.Length > 0 && args[0] is "plan" or "run" or "test" or "explain" or Commands.EvaluateCommand.Name)
        {
            // One-shot commands end rather than run on when one call overruns the time budget (the daemon never does).
            PlaybookEngine.StopProcessOnOverrun(message =>
            {
                Console.Error.WriteLine(message);
                Console.Error.Flush();
                Environment.Exit(CliApp.Errors);
            });
        }

        // The one place the system clock and the process environment are read (src/BannedSymbols.txt).
#pragma warning disable RS0030
        var options = new EngineOptions { Time = TimeProvider.System, Environment = Environment.GetEnvironmentVariable, Observer = observer };
#pragma warning restore RS0030
        return CliApp.Run(args, Console.Out, Console.Error, options);
    }
}
