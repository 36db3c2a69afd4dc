using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Loading;

/// <summary>
/// Where files named by a workspace may be: inside the workspace root (after '..' and symbolic links are
/// resolved) or inside a folder the operator allows. The workspace root is the top of the git
/// repository that holds runner.yaml (the nearest folder above it with a <c>.git</c>), or, outside a
/// repository, runner.yaml's folder and the folders named on the command line.
/// </summary>
internal static class WorkspacePaths
{
    /// <summary>The operator's extra roots: folders separated by the platform's path separator (':' on Linux).</summary>
    public const string AllowedRootsVariable = "PLAYBOOK_ALLOWED_ROOTS";

    /// <summary>The roots of a workspace whose runner.yaml (or first playbook) is in <paramref name="folder"/>, plus the named folders.</summary>
    public static IReadOnlyList<string> Roots(string folder, IEnumerable<string> named, HostContext host)
    {
        var roots = new List<string> { folder };
        roots.AddRange(named);
        for (var dir = new DirectoryInfo(folder); dir is not null; dir = dir.Parent)
        {
            if (Directory.Exists(Path.Combine(dir.FullName, ".git")) || File.Exists(Path.Combine(dir.FullName, ".git")))
            {
                roots.Add(dir.FullName);
                break;
            }
        }

        foreach (var extra in host.PathList(AllowedRootsVariable))
        {
            roots.Add(Path.GetFullPath(extra));
        }

        return [.. roots.Select(RealPath).Distinct(StringComparer.Ordinal)];
    }

    /// <summary>True when <paramref name="path"/>, with its links resolved, is inside one of <paramref name="roots"/>.</summary>
    public static bool IsInside(string path, IReadOnlyList<string> roots)
    {
        var real = RealPath(path);
        return roots.Any(root => real == root || real.StartsWith(root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar, StringComparison.Ordinal));
    }

    /// <summary>
    /// The files under <paramref name="folder"/> whose names pass <paramref name="wanted"/>, walked without
    /// following symbolic links (a link to '.' would loop, a link outside would read outside); every link
    /// that would have been followed, to a folder or a wanted file, is passed to <paramref name="skipped"/>.
    /// </summary>
    public static IEnumerable<string> Files(string folder, Func<string, bool> wanted, Action<string>? skipped = null)
    {
        var pending = new Stack<string>();
        pending.Push(folder);
        while (pending.Count > 0)
        {
            var current = pending.Pop();
            IEnumerable<FileSystemInfo> entries;
            try
            {
                entries = new DirectoryInfo(current).EnumerateFileSystemInfos("*", new EnumerationOptions { IgnoreInaccessible = true, AttributesToSkip = 0 }).ToList();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            foreach (var entry in entries.OrderBy(e => e.Name, StringComparer.Ordinal))
            {
                if (entry.LinkTarget is not null)
                {
                    if (entry is DirectoryInfo || wanted(entry.FullName))
                    {
                        skipped?.Invoke(entry.FullName);
                    }
                }
                else if (entry is DirectoryInfo)
                {
                    pending.Push(entry.FullName);
                }
                else if (wanted(entry.FullName))
                {
                    yield return entry.FullName;
                }
            }
        }
    }

    /// <summary>The message for a path outside the roots (one line; the path as written).</summary>
    public static string Outside(string written) =>
        $"'{written}' is outside the workspace root; files must be inside it (after '..' and symbolic links), or the operator allows another root with {AllowedRootsVariable}";

    /// <summary>
    /// The full path with every symbolic link resolved, component by component; a part that does not
    /// exist yet is kept as written (a file an action will create).
    /// </summary>
    public static string RealPath(string path)
    {
        // The callers open the path as Path.GetFullPath gives it ('..' taken away as text); the links in it
        // are then resolved as the operating system does, '..' inside a link's target included.
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full) ?? "/";
        var current = root;
        var hops = 0;
        var queue = new LinkedList<string>(full.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries));
        while (queue.First is { } first)
        {
            var part = first.Value;
            queue.RemoveFirst();
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? root;
                continue;
            }

            var next = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.Exists && info.LinkTarget is { } target)
            {
                if (++hops > 40)
                {
                    // A loop of links: no file behind it; report it where the loop starts.
                    return next;
                }

                foreach (var piece in target.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Reverse())
                {
                    queue.AddFirst(piece);
                }

                if (Path.IsPathRooted(target))
                {
                    current = Path.GetPathRoot(target) ?? root;
                }

                continue;
            }

            current = next;
        }

        return current;
    }
}
