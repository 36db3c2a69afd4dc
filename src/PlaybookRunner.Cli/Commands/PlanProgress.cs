using PlaybookRunner.Core.Diagnostics;
using Spectre.Console;

namespace PlaybookRunner.Cli.Commands;

/// <summary>
/// Shows how far a long plan has got, on standard error, only when standard error is a terminal:
/// nothing is drawn into a redirected stream, a pipe or a CI log. A plan that ends within
/// <see cref="Delay"/> shows nothing at all.
/// </summary>
internal sealed class PlanProgress : IProgress<long>
{
    /// <summary>How long a plan runs before progress appears.</summary>
    public static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(500);

    private long _records;

    public void Report(long value) => Interlocked.Exchange(ref _records, value);

    /// <summary>True when progress would be drawn for <paramref name="stderr"/>.</summary>
    public static bool Enabled(TextWriter stderr, Func<string, string?> environment) =>
        WritesToConsoleError(stderr) && !Console.IsErrorRedirected && environment("TERM") != "dumb";

    /// <summary>True when <paramref name="stderr"/> is the process's standard error, as is or behind the CLI's <see cref="SafeTextWriter"/>.</summary>
    internal static bool WritesToConsoleError(TextWriter stderr) =>
        ReferenceEquals(stderr is SafeTextWriter safe ? safe.Inner : stderr, Console.Error);

    /// <summary>Runs <paramref name="work"/>, drawing its progress when <see cref="Enabled"/>.</summary>
    public static async Task<T> RunAsync<T>(TextWriter stderr, Func<string, string?> environment, Func<IProgress<long>?, Task<T>> work)
    {
        if (!Enabled(stderr, environment))
        {
            return await work(null);
        }

        var progress = new PlanProgress();
        var task = work(progress);
        if (await Task.WhenAny(task, Task.Delay(Delay)) == task)
        {
            return await task;
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        await console.Status().Spinner(Spinner.Known.Dots).StartAsync("Reading and evaluating...", async context =>
        {
            while (await Task.WhenAny(task, Task.Delay(100)) != task)
            {
                var records = Interlocked.Read(ref progress._records);
                if (records > 0)
                {
                    context.Status($"Evaluated {records:N0} records...");
                }
            }
        });
        return await task;
    }
}
