using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Loading;

/// <summary>
/// The YAML files one loaded version of a workspace is made of, with their bytes: what the daemon hands
/// its evaluation worker, so that the worker evaluates the version the daemon runs (the last good one)
/// and not whatever the files on disk say by then.
/// </summary>
/// <param name="RunnerPath">runner.yaml's full path, when there is one.</param>
/// <param name="Root">The workspace's root folder (runner.yaml's, else the first playbook file's as first loaded).</param>
/// <param name="Playbooks">The full paths of the playbook files, in load order.</param>
/// <param name="Files">The bytes of those files, runner.yaml and suppressions.yaml (when present), by full path.</param>
public sealed record WorkspaceSnapshot(string? RunnerPath, string Root, IReadOnlyList<string> Playbooks, IReadOnlyDictionary<string, byte[]> Files)
{
    /// <summary>The snapshot of a loaded workspace: its runner.yaml, suppressions.yaml and the playbooks that loaded.</summary>
    public static WorkspaceSnapshot Of(WorkspaceDefinition workspace)
    {
        var playbooks = workspace.Playbooks.Select(p => p.Path).ToList();
        var paths = playbooks.Append(Path.Combine(workspace.Root, "suppressions.yaml"));
        if (workspace.RunnerPath is { } runner)
        {
            paths = paths.Append(runner);
        }

        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            if (workspace.Files.TryGetValue(path, out var bytes))
            {
                files[path] = bytes;
            }
        }

        return new WorkspaceSnapshot(workspace.RunnerPath, workspace.Root, playbooks, files);
    }
}
