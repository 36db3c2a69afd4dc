using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Loading;

/// <summary>
/// Where a file action may write: inside the workspace root (the rule of <see cref="WorkspacePaths"/>),
/// never inside <c>.git</c>, never a YAML file (the workspace's playbooks, tests and settings) and never a
/// file the workspace reads (a source, the SQLite state store and its journal, WAL and shared-memory files). The same rule holds for a path the author
/// wrote and for one rendered from data; <c>validate</c> checks the author's part, <c>plan</c> and <c>run</c>
/// each rendered path.
/// </summary>
internal static class OutputPaths
{
    /// <summary>Why a file action cannot write <paramref name="path"/> (as <paramref name="written"/>); null when it can.</summary>
    public static string? Problem(string path, string written, WorkspaceDefinition workspace)
    {
        var full = Path.GetFullPath(path);
        if (workspace.Roots.Count > 0 && !WorkspacePaths.IsInside(full, workspace.Roots))
        {
            return WorkspacePaths.Outside(written);
        }

        var real = WorkspacePaths.RealPath(full);
        if (real.Split(Path.DirectorySeparatorChar).Contains(".git", StringComparer.OrdinalIgnoreCase))
        {
            return $"'{written}' is inside a .git folder; file actions do not write there";
        }

        if (real.Split(Path.DirectorySeparatorChar).Any(segment => segment.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || segment.EndsWith(".yml", StringComparison.OrdinalIgnoreCase)))
        {
            return $"'{written}' is a YAML file; file actions do not write the workspace's playbooks, tests or settings (use .jsonl)";
        }

        var reads = workspace.Sources.Values.Concat(workspace.Playbooks.Select(p => p.Source)).Select(s => s.FullPath)
            .Append(workspace.State.Kind == "sqlite" ? workspace.StatePath : null).OfType<string>();
        // SQLite keeps a store in several files: the database and its -journal, -wal and -shm companions.
        if (reads.Select(WorkspacePaths.RealPath).Any(r => real == r || real.StartsWith(r + "-", StringComparison.Ordinal)))
        {
            return $"'{written}' is a file the workspace reads (a source or the state store); file actions do not write it";
        }

        return null;
    }
}

/// <summary>
/// <see cref="OutputPaths.Problem"/> answered once per path for one plan (resolving a path's links costs a system call per
/// folder): a plan is a snapshot, and <c>run</c> checks each path again right before writing it. At most
/// <see cref="Capacity"/> paths are remembered (paths rendered per customer are checked each time past that).
/// </summary>
internal sealed class OutputPathCheck(WorkspaceDefinition workspace)
{
    private const int Capacity = 1024;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Path, string Written), string?> _answers = new();

    /// <inheritdoc cref="OutputPaths.Problem"/>
    public string? Problem(string path, string written)
    {
        if (_answers.TryGetValue((path, written), out var known))
        {
            return known;
        }

        var answer = OutputPaths.Problem(path, written, workspace);
        if (_answers.Count < Capacity)
        {
            _answers.TryAdd((path, written), answer);
        }

        return answer;
    }
}
