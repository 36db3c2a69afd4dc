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
