using System.Diagnostics;

namespace PlaybookRunner.Tests.Cli;

/// <summary>Runs a program to its end and returns its exit code and output; fails the test if it does not end in time.</summary>
internal static class ProcessRunner
{
    public static (int Code, string Out, string Err) Run(string file, IEnumerable<string> args, string? workingDirectory = null, int timeoutSeconds = 300, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? CliRunner.RepoRoot };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(timeoutSeconds * 1000), $"{file} {string.Join(' ', args)} did not finish within {timeoutSeconds} s");
        process.WaitForExit();
        TestCanary.Keep("process", $"{file} {string.Join(' ', args)}\n{stdout.Result}\n{stderr.Result}");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
