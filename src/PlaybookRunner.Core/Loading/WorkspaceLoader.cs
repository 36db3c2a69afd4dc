using PlaybookRunner.Abstractions;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Yaml;

namespace PlaybookRunner.Core.Loading;

/// <summary>
/// Loads a workspace (runner.yaml and playbooks) into the model. Shape is checked against the
/// embedded JSON Schemas; meaning (time zones, cron, durations, ids, references) here.
/// Returns null only when nothing could be loaded; otherwise every problem is a diagnostic.
/// </summary>
public static partial class WorkspaceLoader
{
    /// <summary>The file name of the workspace file.</summary>
    public const string RunnerFileName = "runner.yaml";

    /// <summary>
    /// Names that fields, let values and segments may not take: template globals and helpers, Scriban
    /// built-ins, and members of the generated record class.
    /// </summary>
    private static readonly HashSet<string> ReservedNames = new(StringComparer.Ordinal)
    {
        "rule", "playbook", "now", "days_since", "months_since", "money", "json_escape", "html_escape", "raw",
        "last_fired", "last_delivered", "last_fired_of", "last_delivered_of", "add_business_days", "business_days_since",
        "IsBusinessDay", "AddBusinessDays", "BusinessDaysSince", "BusinessDaysUntil",
        "array", "date", "html", "math", "object", "regex", "string", "timespan", "empty", "blank", "include", "include_join",
        "Key", "GetField", "Create", "MakeArray", "SetRelated", "GetRelated", "Now", "Today", "LastFired",
    };

    /// <summary>
    /// A source of runner.yaml written without <c>fields:</c> yet (for <c>sources describe</c>, which infers them):
    /// the source as if it declared none; null when it has another error or is not there.
    /// </summary>
    internal static SourceDefinition? ReadUndeclared(WorkspaceDefinition workspace, string name)
    {
        var scratch = new DiagnosticBag();
        if (workspace.RunnerPath is not { } path || new FileReader(null).Node(path, scratch) is not YamlMapping { } map
            || map["sources"] is not YamlMapping sources || sources[name] is not YamlMapping source || source["fields"] is not null)
        {
            return null;
        }

        var withFields = source with { Entries = [.. source.Entries, new(new YamlScalar("fields", false, source.Location, []), new YamlMapping([], source.Location))] };
        var validator = YamlSchemaValidator.ForEmbedded("runner.schema.json");
        var wrapped = map with { Entries = [new(new YamlScalar("sources", false, map.Location, []), new YamlMapping([new(new YamlScalar(name, false, source.Location, []), withFields)], map.Location))] };
        return validator.Validate(wrapped, scratch) ? ReadSource(name, withFields, Path.GetDirectoryName(path)!, workspace.DefaultTimeZone, new DiagnosticBag()) : null;
    }

    /// <summary>Errors in a playbook that leave the rest of it worth compiling (one pass: every independent error at once).</summary>
    private static readonly HashSet<DiagnosticDescriptor> IndependentErrors =
    [
        DiagnosticDescriptors.BadCron, DiagnosticDescriptors.BadTimeZone, DiagnosticDescriptors.UnknownChannel, DiagnosticDescriptors.ChannelKind,
        DiagnosticDescriptors.DuplicateRule, DiagnosticDescriptors.WebhookTarget, DiagnosticDescriptors.BadDuration, DiagnosticDescriptors.BadOrderBy,
        DiagnosticDescriptors.EmailBodyConflict, DiagnosticDescriptors.UnknownDigest,
    ];

    private static readonly string[] ReservedFileNames = [RunnerFileName, "runner.yml", "suppressions.yaml", "suppressions.yml"];

    /// <summary>Loads the playbooks named by <paramref name="paths"/> (files or folders).</summary>
    public static WorkspaceDefinition? Load(IReadOnlyList<string> paths, HostContext host, DiagnosticBag diagnostics) => Load(paths, host, diagnostics, requirePlaybooks: true);

    /// <summary>Loads the workspace; with <paramref name="requirePlaybooks"/> false, runner.yaml alone is enough.</summary>
    public static WorkspaceDefinition? Load(IReadOnlyList<string> paths, HostContext host, DiagnosticBag diagnostics, bool requirePlaybooks)
    {
        var files = new List<string>();
        string? runner = null;
        foreach (var raw in paths)
        {
            var path = Path.GetFullPath(raw);
            if (Directory.Exists(path))
            {
                runner ??= FindRunner(path);
                files.AddRange(WorkspacePaths.Files(path, IsPlaybookFile, link => diagnostics.Add(DiagnosticDescriptors.LinkNotFollowed, SourceLocation.At(link, 1, 1), link)));
            }
            else if (File.Exists(path))
            {
                runner ??= FindRunner(Path.GetDirectoryName(path)!);
                if (!IsReserved(path))
                {
                    files.Add(path);
                }
            }
            else
            {
                diagnostics.Add(DiagnosticDescriptors.FileRead, SourceLocation.None, raw, "no such file or folder");
            }
        }

        files = [.. files.Distinct(StringComparer.Ordinal).OrderBy(f => f, StringComparer.Ordinal)];
        var reader = new FileReader(null);
        if (files.Count == 0 && !requirePlaybooks && runner is not null)
        {
            var alone = LoadRunner(runner, reader, diagnostics);
            return Confine(alone with { Files = reader.Read, Host = host, Roots = WorkspacePaths.Roots(alone.Root, [], host) }, diagnostics);
        }

        if (files.Count == 0)
        {
            if (!diagnostics.HasErrors)
            {
                diagnostics.Add(DiagnosticDescriptors.NoPlaybooks, SourceLocation.None, string.Join(", ", paths));
            }

            return null;
        }

        var named = paths.Select(Path.GetFullPath).Select(p => Directory.Exists(p) ? p : Path.GetDirectoryName(p)!).ToList();
        return LoadFiles(runner, files, reader, host, diagnostics, named: named);
    }

    /// <summary>
    /// Loads exactly the version of a workspace that <paramref name="snapshot"/> holds, whatever the files
    /// on disk say by now (the daemon's evaluation worker).
    /// </summary>
    public static WorkspaceDefinition? Load(WorkspaceSnapshot snapshot, HostContext host, DiagnosticBag diagnostics)
    {
        if (snapshot.Playbooks.Count == 0)
        {
            diagnostics.Add(DiagnosticDescriptors.NoPlaybooks, SourceLocation.None, "the snapshot");
            return null;
        }

        return LoadFiles(snapshot.RunnerPath, snapshot.Playbooks, new FileReader(snapshot.Files), host, diagnostics, snapshot.Root, [snapshot.Root]);
    }

    private static WorkspaceDefinition LoadFiles(string? runner, IReadOnlyList<string> files, FileReader reader, HostContext host, DiagnosticBag diagnostics, string? root = null, IReadOnlyList<string>? named = null)
    {
        root ??= runner is not null ? Path.GetDirectoryName(runner)! : Path.GetDirectoryName(files[0])!;
        var workspace = runner is not null ? LoadRunner(runner, reader, diagnostics) : EmptyWorkspace(root);
        workspace = workspace with { Host = host, Roots = WorkspacePaths.Roots(workspace.Root, named ?? [], host) };
        var playbooks = new List<PlaybookDefinition>();
        var ids = new Dictionary<string, PlaybookDefinition>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            var playbook = LoadPlaybook(file, workspace, reader, diagnostics);
            if (playbook is null)
            {
                continue;
            }

            if (ids.TryGetValue(playbook.Id, out var first))
            {
                diagnostics.Add(DiagnosticDescriptors.DuplicatePlaybook, playbook.Location, playbook.Id, first.Path);
                continue;
            }

            ids[playbook.Id] = playbook;
            playbooks.Add(playbook);
        }

        var suppressions = LoadSuppressions(Path.Combine(root, "suppressions.yaml"), reader, diagnostics);
        return Confine(workspace with { Playbooks = playbooks, Suppressions = suppressions, Files = reader.Read }, diagnostics);
    }

    /// <summary>
    /// Reports every file the workspace names outside its roots (sources, the state file, literal file-action
    /// paths) and drops the plugin folders the operator did not allow, so that nothing ever loads from them.
    /// </summary>
    private static WorkspaceDefinition Confine(WorkspaceDefinition workspace, DiagnosticBag diagnostics)
    {
        var sources = workspace.Sources.Values.Concat(workspace.Playbooks.Select(p => p.Source)).Distinct();
        foreach (var source in sources)
        {
            if (source.FullPath is { } path && !WorkspacePaths.IsInside(path, workspace.Roots))
            {
                diagnostics.Add(DiagnosticDescriptors.PathOutside, source.LocationOf("path"), WorkspacePaths.Outside(source.Option("path")!));
            }
        }

        if (workspace.State.Kind == "sqlite" && !WorkspacePaths.IsInside(workspace.StatePath, workspace.Roots))
        {
            diagnostics.Add(DiagnosticDescriptors.PathOutside, workspace.State.Location, WorkspacePaths.Outside(workspace.State.Settings.GetValueOrDefault("path", "")));
        }

        foreach (var playbook in workspace.Playbooks)
        {
            foreach (var field in playbook.Rules.SelectMany(r => r.AllActions).SelectMany(a => a.Fields.Where(f => f.Name == ActionKind.Of(a.Type).OutputPathField)))
            {
                // The template's own text up to its first value: values add no segments, so its folder is where the file lands.
                if (field.Template is { } template && LiteralPrefix(template.Value) is var fixedPart
                    && OutputPaths.Problem(Path.Combine(Path.GetDirectoryName(playbook.Path)!, fixedPart.Length == template.Value.Length ? fixedPart : fixedPart[..(fixedPart.LastIndexOfAny(['/', '\\']) + 1)]), template.Value, workspace) is { } problem)
                {
                    diagnostics.Add(DiagnosticDescriptors.PathOutside, field.Location, problem);
                }
            }

            foreach (var header in playbook.Rules.SelectMany(r => r.AllActions).SelectMany(a => a.Fields.Where(f => f.Name == ActionKind.Of(a.Type).HeadersField))
                .SelectMany(f => f.Children ?? []).Where(h => ActionRules.ReservedHeaders.Contains(h.Name)))
            {
                diagnostics.Add(DiagnosticDescriptors.ActionFieldInvalid, header.Location, $"Header '{header.Name}' is set by the HTTP client or the engine, not by a playbook");
            }

            foreach (var (action, field) in playbook.Rules.SelectMany(r => r.AllActions).SelectMany(a => a.Fields.Select(f => (a, f))))
            {
                if (field.Template is { } literal && !literal.Value.Contains("{{", StringComparison.Ordinal) && ActionKind.Of(action.Type).LiteralProblem(field.Name, literal.Value) is { } problem)
                {
                    diagnostics.Add(DiagnosticDescriptors.ActionFieldInvalid, field.Location, problem);
                }
            }

            foreach (var field in playbook.Rules.SelectMany(r => r.AllActions).SelectMany(a => a.Fields.Where(f => f.Name == ActionKind.Of(a.Type).UrlField)))
            {
                if (field.Template is { } template && LiteralPrefix(template.Value) is var fixedPart && fixedPart.Length < template.Value.Length
                    && !ActionRules.HasFixedAuthority(fixedPart))
                {
                    diagnostics.Add(DiagnosticDescriptors.UrlHostFromData, field.Location, template.Value);
                }
            }
        }

        var policy = SecretPolicy.Of(workspace.Host);
        foreach (var source in sources)
        {
            CheckSecrets($"source '{source.Name}'", source.Options, source.LocationOf, policy, diagnostics);
        }

        foreach (var channel in workspace.Channels.Values)
        {
            CheckSecrets($"channel '{channel.Name}'", channel.Settings, _ => channel.Location, policy, diagnostics);
            foreach (var header in channel.Settings.Keys.Where(k => k.StartsWith("headers.", StringComparison.Ordinal)).Select(k => k["headers.".Length..])
                .Where(ActionRules.ReservedHeaders.Contains))
            {
                diagnostics.Add(DiagnosticDescriptors.ActionFieldInvalid, channel.Location, $"Header '{header}' of channel '{channel.Name}' is set by the HTTP client or the engine, not by a workspace");
            }
        }

        CheckSecrets("state store", workspace.State.Settings, _ => workspace.State.Location, policy, diagnostics);

        var allowed = workspace.Host.PathList(PluginFoldersVariable).Select(f => WorkspacePaths.RealPath(f)).ToList();
        var plugins = new List<string>();
        foreach (var folder in workspace.PluginFolders)
        {
            if (WorkspacePaths.IsInside(folder, allowed))
            {
                plugins.Add(folder);
            }
            else
            {
                diagnostics.Add(DiagnosticDescriptors.PluginFolderNotAllowed, workspace.PluginLocations.GetValueOrDefault(folder, SourceLocation.None), folder, PluginFoldersVariable);
            }
        }

        return workspace with { PluginFolders = plugins };
    }

    /// <summary>
    /// Secrets only in credential fields, only the variables the operator allows, and only towards the
    /// hosts the operator bound them to. The messages name variables, never their values.
    /// </summary>
    private static void CheckSecrets(string what, IReadOnlyDictionary<string, string> settings, Func<string, SourceLocation> locate, SecretPolicy policy, DiagnosticBag diagnostics)
    {
        var destination = SecretPolicy.Destination(settings);
        foreach (var (key, value) in settings)
        {
            foreach (var name in SecretPolicy.References(value).Distinct(StringComparer.Ordinal))
            {
                if (!SecretPolicy.IsCredential(key))
                {
                    diagnostics.Add(DiagnosticDescriptors.SecretOutsideCredential, locate(key), name, key);
                }
                else if (!policy.Allows(name))
                {
                    diagnostics.Add(DiagnosticDescriptors.EnvNotAllowed, locate(key), name);
                }
                else if (policy.HostsOf(name) is { Count: > 0 } hosts && !SecretPolicy.Matches(destination, hosts))
                {
                    diagnostics.Add(DiagnosticDescriptors.SecretDestination, locate(key), name, string.Join(", ", hosts), what,
                        destination is null ? "a host that cannot be told before the secrets are resolved" : destination.TrimEnd(':'));
                }
            }
        }
    }

    /// <summary>The operator's plugin folders a workspace's <c>plugins:</c> may name.</summary>
    public const string PluginFoldersVariable = "PLAYBOOK_PLUGIN_FOLDERS";

    /// <summary>Reads YAML files from disk (keeping their bytes), or from a snapshot only.</summary>
    private sealed class FileReader(IReadOnlyDictionary<string, byte[]>? snapshot)
    {
        public Dictionary<string, byte[]> Read { get; } = new(StringComparer.Ordinal);

        public bool Exists(string path) => snapshot is null ? File.Exists(path) : snapshot.ContainsKey(path);

        public YamlNode? Node(string path, DiagnosticBag diagnostics)
        {
            if (snapshot is null)
            {
                return YamlTreeReader.ReadFile(path, diagnostics, Read);
            }

            if (!snapshot.TryGetValue(path, out var bytes))
            {
                diagnostics.Add(DiagnosticDescriptors.FileRead, SourceLocation.At(path, 1, 1), path, "not in the snapshot");
                return null;
            }

            Read[path] = bytes;
            return YamlTreeReader.ReadBytes(path, bytes, diagnostics);
        }
    }

    private static bool IsReserved(string path) =>
        ReservedFileNames.Contains(Path.GetFileName(path), StringComparer.Ordinal)
        || path.EndsWith(".test.yaml", StringComparison.Ordinal) || path.EndsWith(".test.yml", StringComparison.Ordinal);

    private static bool IsPlaybookFile(string path) =>
        (path.EndsWith(".yaml", StringComparison.Ordinal) || path.EndsWith(".yml", StringComparison.Ordinal)) && !IsReserved(path);

    /// <summary>The source and channel names runner.yaml writes, valid or not.</summary>
    private static (IReadOnlyList<string> Sources, IReadOnlyList<string> Channels) SourceAndChannelNames(YamlNode node)
    {
        static IReadOnlyList<string> Names(YamlNode? section) => section is YamlMapping m ? [.. m.Entries.Select(e => e.Key.Value)] : [];
        return node is YamlMapping map ? (Names(map["sources"]), Names(map["channels"])) : ([], []);
    }

}
