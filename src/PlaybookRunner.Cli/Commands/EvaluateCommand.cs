using System.CommandLine;
using PlaybookRunner.Core;
using PlaybookRunner.Hosting;

namespace PlaybookRunner.Cli.Commands;

/// <summary>
/// <c>playbook __evaluate</c> (hidden): the daemon's evaluation worker. Reads one tick's request as JSON
/// on standard input and writes the plan as JSON on standard output; see <see cref="EvaluationWorker"/>.
/// </summary>
internal static class EvaluateCommand
{
    public const string Name = "__evaluate";

    public static Command Create(TextWriter stderr, EngineOptions engine)
    {
        var command = new Command(Name, "The daemon's evaluation worker (internal): a request on standard input, a plan on standard output.") { Hidden = true };
        command.SetAction(async (_, cancellationToken) =>
        {
            await using var input = Console.OpenStandardInput();
            await using var output = Console.OpenStandardOutput();
            // Standard output carries the answer alone: anything else written to the console (a plugin's
            // own output) goes to standard error, which the daemon only reads on failure.
            var console = Console.Out;
            Console.SetOut(Console.Error);
            try
            {
                return await EvaluationWorker.ServeAsync(input, output, stderr, engine, cancellationToken);
            }
            finally
            {
                Console.SetOut(console);
            }
        });
        return command;
    }

    /// <summary>How this program starts itself as a worker: through the dotnet host when it runs as <c>dotnet playbook.dll</c>.</summary>
    public static WorkerCommand Self()
    {
        var process = Environment.ProcessPath ?? "dotnet";
        var assembly = typeof(EvaluateCommand).Assembly.Location;
        return Path.GetFileNameWithoutExtension(process) == "dotnet" && assembly.Length > 0
            ? new WorkerCommand(process, [assembly, Name])
            : new WorkerCommand(process, [Name]);
    }
}
