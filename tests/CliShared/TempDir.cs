namespace PlaybookRunner.Tests.Cli;

/// <summary>A temporary folder for one test, deleted (canary-checked) at the end.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Root = Path.Combine(Path.GetTempPath(), "pbcli-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string Write(string name, string content)
    {
        var path = Path.Combine(Root, name);
        File.WriteAllText(path, content);
        return path;
    }

    public void Dispose() => TestCanary.DeleteFolder(Root);

    /// <summary>A path as the CLI prints it: relative to the current folder when inside it.</summary>
    internal static string Display(string path) =>
        Path.GetRelativePath(Directory.GetCurrentDirectory(), path) is var r && !r.StartsWith("..", StringComparison.Ordinal) ? r : path;
}
