namespace PlaybookRunner.Cli;

internal static class Program
{
    private static int Main(string[] args)
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

        var exitCode = CliApp.Run(args, Console.Out, Console.Error, TimeProvider.System);
        // For the start-up tests: which assemblies this process loaded (a compile-cache hit must not load Roslyn).
        if (Environment.GetEnvironmentVariable("PLAYBOOK_DEBUG_LOADED_ASSEMBLIES") is { Length: > 0 } path)
        {
            File.WriteAllLines(path, AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name ?? "").Order(StringComparer.Ordinal));
        }

        return exitCode;
    }
}
