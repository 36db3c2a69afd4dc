using System.Diagnostics;

namespace PlaybookRunner.Cli.Tests.Commands;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class HistoryCommandTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>
    /// history (and plan) read a store in a folder the reader may not write, as an analyst reading the production store
    /// does: a WAL database cannot be opened read-only there without creating its -shm file, so it is read as immutable.
    /// As root the folder's mode does not bind, so the reader is the user nobody (setpriv), in a folder it may not write.
    /// </summary>
    [Fact]
    public void History_reads_a_store_in_a_folder_the_reader_may_not_write()
    {
        var root = Path.Combine("/var/tmp", "pbro-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        try
        {
            File.WriteAllText(Path.Combine(root, "d.csv"), "id,n\nA,5\n");
            File.WriteAllText(Path.Combine(root, "p.yaml"), "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }\nrules:\n  - { id: r, when: n > 3, actions: [ { type: file, path: out.jsonl, body: \"{{ id }}\" } ] }\n");
            Assert.Equal(0, CliRunner.Run("run", "--create-store", root, "--as-of", "2026-03-02T09:00:00Z").ExitCode);
            Assert.False(File.Exists(Path.Combine(root, "playbook-state.db-shm")));
            const string Expected = "2026-03-02T09:00:00+00:00  succeeded  p/r  A  #0 file  attempts 1\n";

            if (Environment.UserName != "root")
            {
                File.SetUnixFileMode(root, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
                var history = CliRunner.Run("history", root);
                Assert.Equal((0, Expected, ""), (history.ExitCode, history.Out.ReplaceLineEndings("\n"), history.Err));
                return;
            }

            File.SetUnixFileMode(root, (UnixFileMode)0b111_101_101);
            var probe = AsNobody("--version");
            if (probe.Code != 0)
            {
                // This machine's build tree is not readable by another user; the in-process branch above covers non-root runs.
                output.WriteLine($"not run as another user: the build tree is not readable by nobody ({probe.Err.Trim()})");
                return;
            }

            var (code, stdout, stderr) = AsNobody("history", root);
            Assert.Equal((0, Expected, ""), (code, stdout, stderr));
            Assert.False(File.Exists(Path.Combine(root, "playbook-state.db-shm")));
        }
        finally
        {
            File.SetUnixFileMode(root, (UnixFileMode)0b111_111_101);
            Directory.Delete(root, recursive: true);
        }
    }

    private static (int Code, string Out, string Err) AsNobody(params string[] args)
    {
        var info = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (var arg in (string[])["--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp", "DOTNET_CLI_HOME=/tmp", "dotnet", Path.Combine(AppContext.BaseDirectory, "playbook.dll"), .. args])
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit(60_000);
        return (process.ExitCode, stdout.Result.ReplaceLineEndings("\n"), stderr.Result);
    }
}
