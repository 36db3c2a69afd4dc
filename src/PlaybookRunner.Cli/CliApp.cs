using System.CommandLine;
using PlaybookRunner.Cli.Commands;
using PlaybookRunner.Core;
using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Cli;

/// <summary>Builds the command line and runs it; the same entry point serves Main and in-process tests.</summary>
internal static class CliApp
{
    /// <summary>Exit code for success.</summary>
    public const int Success = 0;

    /// <summary>Exit code when errors were found.</summary>
    public const int Errors = 1;

    /// <summary>Exit code for bad usage (and for pending actions under --detailed-exitcode).</summary>
    public const int Usage = 2;

    /// <summary>Exit code of <c>run</c> when another runner holds the state store and nothing ran (PB5012).</summary>
    public const int Busy = 3;

    /// <summary>Runs the command line with the engine made from <paramref name="options"/>; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, EngineOptions options)
    {
        // Whatever a command prints may carry data (a key, a rendered body, an error message): no control
        // sequence reaches the terminal or the CI log raw (docs/security.md).
        stdout = new Core.Diagnostics.SafeTextWriter(stdout);
        stderr = new Core.Diagnostics.SafeTextWriter(stderr);
        var root = BuildRoot(stdout, stderr, options);

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                Report(stderr, DiagnosticDescriptors.BadInvocation, error.Message);
            }

            stderr.WriteLine("Run 'playbook --help' for usage.");
            return Usage;
        }

        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Bad input never gets here (the engine reports diagnostics); this is a bug, reported without a stack trace.
            Report(stderr, DiagnosticDescriptors.InternalError, ex.GetType().Name, ex.Message);
            return Errors;
        }
    }

    /// <summary>Writes one diagnostic of the command line itself (no file position), formatted as every diagnostic is.</summary>
    public static void Report(TextWriter stderr, DiagnosticDescriptor descriptor, params object?[] args) =>
        stderr.WriteLine(DiagnosticFormatter.FormatText(Diagnostic.Create(descriptor, SourceLocation.None, args), Directory.GetCurrentDirectory()));

    /// <summary>The command line: every verb with its options.</summary>
    public static RootCommand BuildRoot(TextWriter stdout, TextWriter stderr, EngineOptions options)
    {
        var root = Commands(stdout, stderr, options, new PlaybookEngine(options));
        var help = root.Options.OfType<System.CommandLine.Help.HelpOption>().Single();
        help.Action = new OptionalArgumentsHelp((System.CommandLine.Help.HelpAction)help.Action!);
        return root;
    }

    private static RootCommand Commands(TextWriter stdout, TextWriter stderr, EngineOptions options, PlaybookEngine engine) =>
        new("PlaybookRunner: customer retention playbooks as code.")
        {
            ValidateCommand.Create(stdout, engine),
            PlanCommand.Create(stdout, stderr, engine),
            RunCommand.Create(stdout, stderr, engine),
            DaemonCommand.Create(stderr, options),
            TestCommand.Create(stdout, stderr, engine),
            ExplainCommand.Create(stdout, stderr, engine),
            InitCommand.Create(stdout, stderr, options.Time),
            HistoryCommand.Create(stdout, stderr, engine),
            RequeueCommand.Create(stdout, stderr, engine),
            SuppressCommand.Create(stdout, stderr, engine),
            SuppressCommand.CreateUnsuppress(stdout, stderr, engine),
            SourcesCommand.Create(stdout, stderr, engine),
            EvaluateCommand.Create(stderr, options),
        };

    /// <summary>
    /// The help, with the optional PATH and DIR of the verbs shown as optional in the top-level command list
    /// (System.CommandLine writes every argument there as <c>&lt;NAME&gt;</c>; a verb's own help shows <c>[&lt;PATH&gt;...]</c>).
    /// </summary>
    private sealed class OptionalArgumentsHelp(System.CommandLine.Help.HelpAction inner) : System.CommandLine.Invocation.SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            if (parseResult.CommandResult.Command is not RootCommand)
            {
                return inner.Invoke(parseResult);
            }

            var configuration = parseResult.InvocationConfiguration;
            var output = configuration.Output;
            var buffer = new StringWriter();
            configuration.Output = buffer;
            try
            {
                return inner.Invoke(parseResult);
            }
            finally
            {
                configuration.Output = output;
                // Same width, so the descriptions stay aligned.
                output.Write(buffer.ToString().Replace(" <PATH>", " [PATH]", StringComparison.Ordinal).Replace(" <DIR>", " [DIR]", StringComparison.Ordinal));
            }
        }
    }

    /// <summary>The PATH argument shared by the verbs: files or folders, default <c>playbooks/</c>.</summary>
    public static Argument<string[]> PathsArgument()
    {
        var argument = new Argument<string[]>("PATH")
        {
            Description = "Playbook files or folders (default: playbooks/)",
            Arity = ArgumentArity.ZeroOrMore,
        };
        argument.Validators.Add(result =>
        {
            foreach (var token in result.Tokens.Where(t => t.Value.StartsWith('-')))
            {
                result.AddError($"Unrecognized option '{token.Value}'");
            }
        });
        return argument;
    }

    public static IReadOnlyList<string> PathsOrDefault(string[]? paths) => paths is { Length: > 0 } ? paths : ["playbooks/"];
}
