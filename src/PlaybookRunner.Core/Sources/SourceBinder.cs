using PlaybookRunner.Abstractions;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Plugins;

namespace PlaybookRunner.Core.Sources;

/// <summary>
/// Checks, without reading data, that every source the playbooks use exists: its kind is built in or
/// provided by a loaded plugin, its options satisfy that kind, and its related sources resolve.
/// </summary>
internal static class SourceBinder
{
    /// <summary>The sources to read for a workspace: each playbook's source and their related sources, each once.</summary>
    public static IReadOnlyList<SourceDefinition> SourcesToRead(WorkspaceDefinition workspace)
    {
        var result = new List<SourceDefinition>();
        foreach (var source in workspace.Playbooks.Select(p => p.Source))
        {
            if (!result.Contains(source))
            {
                result.Add(source);
            }
        }

        foreach (var source in result.ToList())
        {
            foreach (var related in source.Related)
            {
                if (workspace.Sources.TryGetValue(related.Source, out var target) && !result.Contains(target))
                {
                    result.Add(target);
                }
            }
        }

        return result;
    }

    public static void Check(WorkspaceDefinition workspace, PluginCatalog catalog, DiagnosticBag diagnostics)
    {
        diagnostics.AddRange(catalog.Diagnostics);
        foreach (var source in SourcesToRead(workspace))
        {
            if (source.Kind == "csv")
            {
                CheckRelated(source, workspace, diagnostics);
                continue;
            }

            if (!catalog.Sources.TryGetValue(source.Kind, out var provider))
            {
                diagnostics.Add(DiagnosticDescriptors.UnknownSourceKind, source.LocationOf("kind"), source.Kind, string.Join(", ", catalog.SourceKinds));
                continue;
            }

            IReadOnlyList<OptionProblem> problems;
            try
            {
                problems = provider.Plugin.ValidateOptions(new SourceOptions(source.Name, source.Options, source.BaseDirectory, source.Columns));
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                diagnostics.Add(DiagnosticDescriptors.PluginRead, source.Location, source.Name, source.Kind, $"plugin {provider.PluginName}", $"{ex.GetType().Name}: {ex.Message.TrimEnd('.')}");
                continue;
            }

            foreach (var problem in problems)
            {
                diagnostics.Add(DiagnosticDescriptors.BadOption, source.LocationOf(problem.Option), source.Name, problem.Option, problem.Message.TrimEnd('.'));
            }

            CheckRelated(source, workspace, diagnostics);
        }
    }

    private static void CheckRelated(SourceDefinition source, WorkspaceDefinition workspace, DiagnosticBag diagnostics)
    {
        foreach (var related in source.Related)
        {
            if (source.Fields.Any(f => f.Name == related.Name))
            {
                diagnostics.Add(DiagnosticDescriptors.BadRelated, related.Location, related.Name, $"the name is already a field of source '{source.Name}'");
            }
            else if (!workspace.Sources.TryGetValue(related.Source, out var target))
            {
                diagnostics.Add(DiagnosticDescriptors.BadRelated, related.Location, related.Name, $"source '{related.Source}' is not defined in runner.yaml");
            }
            else if (!target.Fields.Any(f => f.Name == related.Key))
            {
                diagnostics.Add(DiagnosticDescriptors.BadRelated, related.Location, related.Name, $"'{related.Key}' is not a field of source '{related.Source}'");
            }
            else if (target.Related.Count > 0)
            {
                diagnostics.Add(DiagnosticDescriptors.BadRelated, related.Location, related.Name, $"source '{related.Source}' has related sources of its own; related data is one level deep");
            }
        }
    }
}
