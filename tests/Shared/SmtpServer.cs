using System.Diagnostics;

namespace PlaybookRunner.Tests.Shared;

/// <summary>A real SMTP server (aiosmtpd) on 127.0.0.1 writing each message it accepts to a folder.</summary>
internal sealed class SmtpServer : IDisposable
{
    private readonly Process _process;

    public SmtpServer()
    {
        Directory = Path.Combine(Path.GetTempPath(), "pbsmtp-" + Guid.NewGuid().ToString("N")[..8]);
        Port = PostgresServer.FreePort();
        // Not the current folder, which a test may briefly set to a temporary one it then deletes.
        var info = new ProcessStartInfo("bash") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetTempPath() };
        info.ArgumentList.Add(Path.Combine(TestOperatorSettings.RepoRoot, "tests", "scripts", "smtp-server.sh"));
        info.ArgumentList.Add(Directory);
        info.ArgumentList.Add(Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _process = Process.Start(info)!;
        var ready = _process.StandardOutput.ReadLineAsync();
        if (!ready.Wait(TimeSpan.FromMinutes(3)) || ready.Result != "ready")
        {
            var error = _process.StandardError.ReadToEnd();
            _process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"SMTP server did not start: {error}");
        }
    }

    public string Directory { get; }

    public int Port { get; }

    /// <summary>The raw messages received so far, in order.</summary>
    public IReadOnlyList<string> Messages() =>
        System.IO.Directory.Exists(Directory)
            ? [.. System.IO.Directory.EnumerateFiles(Directory, "*.eml").Order(StringComparer.Ordinal).Select(File.ReadAllText)]
            : [];

    /// <summary>The envelopes of the messages received so far, in order: "MAIL FROM: a" and one "RCPT TO: b" line per recipient.</summary>
    public IReadOnlyList<string> Envelopes() =>
        System.IO.Directory.Exists(Directory)
            ? [.. System.IO.Directory.EnumerateFiles(Directory, "*.eml").Order(StringComparer.Ordinal).Select(f => File.ReadAllText(Path.ChangeExtension(f, ".env")))]
            : [];

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(5000))
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        finally
        {
            _process.Dispose();
            if (System.IO.Directory.Exists(Directory))
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
        }
    }
}
