using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Planning;

/// <summary>
/// What a saved plan was made from (docs/execution.md, "Saved plans"): the engine's version, the as-of
/// instant, a SHA-256 digest of every workspace file and of their whole, the git commit when the
/// workspace is in a repository, and digests of the file-based sources. <c>run --plan</c> compares it
/// with the workspace it is given before executing anything.
/// </summary>
public sealed record Provenance(
    string Engine,
    DateTimeOffset AsOf,
    string? GitCommit,
    string WorkspaceDigest,
    IReadOnlyDictionary<string, string> Files,
    IReadOnlyDictionary<string, string> Sources)
{
    /// <summary>The engine's version, without build metadata.</summary>
    public static string EngineVersion { get; } = (typeof(Provenance).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(Provenance).Assembly.GetName().Version?.ToString() ?? "0").Split('+')[0];

    /// <summary>The provenance of a plan of <paramref name="workspace"/> as of <paramref name="asOf"/>.</summary>
    public static Provenance Of(WorkspaceDefinition workspace, DateTimeOffset asOf)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (path, bytes) in workspace.Files)
        {
            files[Relative(workspace.Root, path)] = Digest(bytes);
        }

        var sources = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var source in workspace.Sources.Values.Concat(workspace.Playbooks.Select(p => p.Source)).Distinct())
        {
            if (source.Kind is "csv" or "jsonl" or "sqlite" && source.FullPath is { } path && File.Exists(path))
            {
                using var stream = File.OpenRead(path);
                sources[source.Name] = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(stream));
            }
        }

        return new Provenance(EngineVersion, asOf, ReadGitCommit(workspace.Root), WorkspaceDigestOf(files), files, sources);
    }

    /// <summary>One digest over every file's name and digest.</summary>
    public static string WorkspaceDigestOf(IReadOnlyDictionary<string, string> files) =>
        Digest(Encoding.UTF8.GetBytes(string.Concat(files.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key}\0{f.Value}\n"))));

    private static string Digest(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static string Relative(string root, string path) => Path.GetRelativePath(root, path).Replace('\\', '/');

    /// <summary>The commit checked out in the git repository that holds <paramref name="folder"/>, read from .git without running git; null outside one.</summary>
    internal static string? ReadGitCommit(string folder)
    {
        for (var dir = new DirectoryInfo(folder); dir is not null; dir = dir.Parent)
        {
            var git = Path.Combine(dir.FullName, ".git");
            if (!Directory.Exists(git))
            {
                if (File.Exists(git))
                {
                    return null; // a worktree or submodule: the commit is elsewhere; not recorded
                }

                continue;
            }

            try
            {
                var head = File.ReadAllText(Path.Combine(git, "HEAD")).Trim();
                if (!head.StartsWith("ref: ", StringComparison.Ordinal))
                {
                    return IsCommit(head) ? head : null;
                }

                var reference = head[5..];
                var loose = Path.Combine(git, reference.Replace('/', Path.DirectorySeparatorChar));
                if (File.Exists(loose))
                {
                    var commit = File.ReadAllText(loose).Trim();
                    return IsCommit(commit) ? commit : null;
                }

                var packed = Path.Combine(git, "packed-refs");
                return File.Exists(packed)
                    ? File.ReadLines(packed).Select(l => l.Split(' ')).Where(p => p.Length == 2 && p[1] == reference && IsCommit(p[0])).Select(p => p[0]).FirstOrDefault()
                    : null;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return null;
            }
        }

        return null;
    }

    private static bool IsCommit(string text) => text.Length is 40 or 64 && text.All(char.IsAsciiHexDigitLower);
}
