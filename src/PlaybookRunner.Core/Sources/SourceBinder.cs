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
    /// <returns>True when every source binds (an unknown plugin action type is reported, and does not stop the sources binding).</returns>
    public static bool Check(WorkspaceDefinition workspace, PluginCatalog catalog, DiagnosticBag diagnostics)
    {
        diagnostics.AddRange(catalog.Diagnostics);
        CheckPluginActions(workspace, catalog, diagnostics);
        var before = diagnostics.Items.Count(d => d.IsError);
        CheckSources(workspace, catalog, diagnostics);
        return diagnostics.Items.Count(d => d.IsError) == before;
    }

    private static void CheckSources(WorkspaceDefinition workspace, PluginCatalog catalog, DiagnosticBag diagnostics)
    {
        foreach (var source in workspace.SourcesToRead())
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

    /// <summary>Actions of types other than email, webhook and file must come from a plugin, with the fields it declares.</summary>
    private static void CheckPluginActions(WorkspaceDefinition workspace, PluginCatalog catalog, DiagnosticBag diagnostics)
    {
        foreach (var action in workspace.Playbooks.SelectMany(p => p.Rules).SelectMany(r => r.AllActions).Where(a => !ActionKind.Of(a.Type).IsBuiltIn))
        {
            var at = action.Location with { EndLine = action.Location.Line, EndColumn = action.Location.Column + 1 };
            if (!catalog.Actions.TryGetValue(action.Type, out var provider))
            {
                var types = ActionKind.BuiltIn.Select(k => k.Type).Concat(catalog.Actions.Keys.Order(StringComparer.Ordinal));
                diagnostics.Add(DiagnosticDescriptors.NotInEnum, action.TypeLocation, action.Type, "action type", string.Join(", ", types));
                continue;
            }

            var specs = provider.Plugin.Fields;
            foreach (var field in action.Fields.Where(f => !specs.Any(s => s.Name == f.Name)))
            {
                diagnostics.Add(DiagnosticDescriptors.UnknownKey, field.Location, field.Name, $"a {action.Type} action",
                    Yaml.YamlSchemaValidator.Suggest(field.Name, specs.Select(s => s.Name)));
            }

            foreach (var spec in specs.Where(s => s.Required && action.Field(s.Name) is null))
            {
                diagnostics.Add(DiagnosticDescriptors.MissingKey, at, spec.Name, $"a {action.Type} action");
            }
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
