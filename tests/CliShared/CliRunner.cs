namespace PlaybookRunner.Tests.Cli;

/// <summary>Runs the CLI in process, the way spectre.console.cli's CommandAppTester does, capturing output and exit code.</summary>
internal static class CliRunner
{
    public static (int ExitCode, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var time = new FixedTimeProvider(new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero));
        var code = PlaybookRunner.Cli.CliApp.Run(args, stdout, stderr, TestEngine.Options(time));
        TestCanary.Keep("cli", $"playbook {string.Join(' ', args)}\n{stdout}\n{stderr}");
        return (code, stdout.ToString(), stderr.ToString());
    }

    public static string RepoRoot { get; } = FindRoot();

    /// <summary>
    /// A JSON plan without its provenance (the last member; its digests and git commit change with every
    /// edit of the examples), to compare with the engine's golden plan. Fails when there is none.
    /// </summary>
    public static string WithoutProvenance(string json)
    {
        var index = json.IndexOf(",\n  \"provenance\": {", StringComparison.Ordinal);
        Assert.True(index > 0, "the JSON plan has no provenance");
        return json[..index] + "\n}\n";
    }

    public static string Playbooks => Path.Combine(RepoRoot, "playbooks");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PlaybookRunner.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("PlaybookRunner.sln not found");
    }
}
