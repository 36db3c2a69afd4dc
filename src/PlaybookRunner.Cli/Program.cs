namespace PlaybookRunner.Cli;

internal static class Program
{
    internal static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] is "plan" or "run" or "test" or "explain" or Commands.EvaluateCommand.Name)
        {
            // One-shot commands end rather than run on when one call overruns the time budget (the daemon never does).
            Runtime.EvaluationWatchdog.Enable(message =>
            {
                Console.Error.WriteLine(message);
                Console.Error.Flush();
                Environment.Exit(CliApp.Errors);
            });
        }

        return CliApp.Run(args, Console.Out, Console.Error, TimeProvider.System);
    }
}
