using PlaybookRunner.Core.Compilation;
using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Plugins;

namespace PlaybookRunner.Core.Planning;

/// <summary>A workspace ready to evaluate: its model, plugins and compiled rules.</summary>
internal sealed record Prepared(WorkspaceDefinition Workspace, PluginCatalog Catalog, CompiledWorkspace? Compiled);
