using McMaster.NETCore.Plugins;
using PlaybookRunner.Abstractions;
using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Core.Plugins;

/// <summary>A source kind and who provides it.</summary>
internal sealed record SourceProvider(ISourcePlugin Plugin, string PluginName);

/// <summary>An action type and who provides it.</summary>
internal sealed record ActionProvider(IActionPlugin Plugin, string PluginName);

/// <summary>
/// The source kinds and action types available: the built-ins, plus plugins loaded with
/// McMaster.NETCore.Plugins from plugin folders. Each plugin is a folder <c>NAME/</c> holding
/// <c>NAME.dll</c>; the contract assembly is shared with the host, everything else the plugin brings
/// stays in its own load context. A plugin that fails to load is a diagnostic, never a crash.
/// </summary>
internal sealed class PluginCatalog
{
    public const string BuiltIn = "built-in";

    private static readonly Dictionary<string, PluginCatalog> Cache = new(StringComparer.Ordinal);

    private readonly Dictionary<string, SourceProvider> _sources = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ActionProvider> _actions = new(StringComparer.Ordinal);
    private readonly List<Diagnostic> _diagnostics = [];

    private PluginCatalog(IEnumerable<ISourcePlugin> builtInSources)
    {
        foreach (var source in builtInSources)
        {
            AddSource(source, BuiltIn);
        }
    }

    /// <summary>Source kinds implemented by the engine itself (csv is read by a dedicated fast reader).</summary>
    public static readonly IReadOnlyList<string> BuiltInSourceKinds = ["csv", "jsonl", "sqlite", "postgres"];

    /// <summary>The folder next to the tool that is always searched.</summary>
    public static string DefaultFolder => Path.Combine(AppContext.BaseDirectory, "plugins");

    public IReadOnlyDictionary<string, SourceProvider> Sources => _sources;

    public IReadOnlyDictionary<string, ActionProvider> Actions => _actions;

    /// <summary>Problems met while loading (also reported on every later use of the same folders).</summary>
    public IReadOnlyList<Diagnostic> Diagnostics => _diagnostics;

    /// <summary>
    /// Loads (once per process and set of folders) the plugins of the default folder and <paramref name="folders"/>,
    /// next to the engine's own <paramref name="builtInSources"/> (the same on every call).
    /// </summary>
    public static PluginCatalog Load(IEnumerable<string> folders, IEnumerable<ISourcePlugin> builtInSources)
    {
        var all = new[] { DefaultFolder }.Concat(folders).Select(Path.GetFullPath).Distinct(StringComparer.Ordinal).ToList();
        var cacheKey = string.Join("|", all);
        lock (Cache)
        {
            if (!Cache.TryGetValue(cacheKey, out var catalog))
            {
                catalog = new PluginCatalog(builtInSources);
                foreach (var folder in all.Where(Directory.Exists))
                {
                    foreach (var pluginDirectory in Directory.EnumerateDirectories(folder).Order(StringComparer.Ordinal))
                    {
                        catalog.LoadPlugin(pluginDirectory);
                    }
                }

                Cache[cacheKey] = catalog;
            }

            return catalog;
        }
    }

    private void LoadPlugin(string directory)
    {
        var name = Path.GetFileName(directory);
        var assemblyPath = Path.Combine(directory, name + ".dll");
        var location = SourceLocation.At(assemblyPath, 1, 1);
        if (!File.Exists(assemblyPath))
        {
            _diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.PluginLoad, location, name, $"{name}.dll not found in {directory}"));
            return;
        }

        try
        {
            var loader = PluginLoader.CreateFromAssemblyFile(
                assemblyPath,
                sharedTypes: [typeof(ISourcePlugin), typeof(IActionPlugin)],
                config => config.PreferSharedTypes = true);
            var assembly = loader.LoadDefaultAssembly();
            var found = 0;
            foreach (var type in assembly.GetExportedTypes().Where(t => t is { IsClass: true, IsAbstract: false }).OrderBy(t => t.FullName, StringComparer.Ordinal))
            {
                if (typeof(ISourcePlugin).IsAssignableFrom(type))
                {
                    AddSource((ISourcePlugin)Activator.CreateInstance(type)!, name, location);
                    found++;
                }

                if (typeof(IActionPlugin).IsAssignableFrom(type))
                {
                    AddAction((IActionPlugin)Activator.CreateInstance(type)!, name, location);
                    found++;
                }
            }

            if (found == 0)
            {
                _diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.PluginLoad, location, name, "it has no public ISourcePlugin or IActionPlugin class"));
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            var inner = ex is System.Reflection.TargetInvocationException { InnerException: { } e } ? e : ex;
            _diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.PluginLoad, location, name, $"{inner.GetType().Name}: {inner.Message.TrimEnd('.')}"));
        }
    }

    private void AddSource(ISourcePlugin plugin, string pluginName, SourceLocation? location = null)
    {
        if (BuiltInSourceKinds.Contains(plugin.Kind) && pluginName != BuiltIn || _sources.ContainsKey(plugin.Kind))
        {
            var by = _sources.TryGetValue(plugin.Kind, out var existing) ? existing.PluginName : BuiltIn;
            _diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.PluginLoad, location ?? SourceLocation.None, pluginName, $"source kind '{plugin.Kind}' is already provided by {by}"));
            return;
        }

        _sources[plugin.Kind] = new SourceProvider(plugin, pluginName);
    }

    private void AddAction(IActionPlugin plugin, string pluginName, SourceLocation location)
    {
        if (Model.ActionKind.Of(plugin.Type).IsBuiltIn || _actions.ContainsKey(plugin.Type))
        {
            _diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.PluginLoad, location, pluginName, $"action type '{plugin.Type}' is already provided"));
            return;
        }

        _actions[plugin.Type] = new ActionProvider(plugin, pluginName);
    }

    /// <summary>Every source kind available, for messages.</summary>
    public IEnumerable<string> SourceKinds => new[] { "csv" }.Concat(_sources.Keys.Order(StringComparer.Ordinal));
}
