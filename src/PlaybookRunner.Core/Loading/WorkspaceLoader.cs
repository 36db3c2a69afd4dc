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
public static class WorkspaceLoader
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
        "array", "date", "html", "math", "object", "regex", "string", "timespan", "empty", "blank", "include", "include_join",
        "Key", "GetField", "Create", "MakeArray", "SetRelated", "GetRelated", "Now", "Today", "LastFired",
    };

    /// <summary>What run would fail on in a field written without template values (preflight at validate); null when nothing.</summary>
    private static string? LiteralProblem(string type, string field, string text)
    {
        switch (type, field)
        {
            case ("webhook", "body"):
                try
                {
                    using var _ = System.Text.Json.JsonDocument.Parse(text);
                    return null;
                }
                catch (System.Text.Json.JsonException ex)
                {
                    return $"The webhook body is not valid JSON: {ex.Message}";
                }

            case ("webhook", "url"):
                return Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" ? null : $"'{text}' is not an absolute http or https URL";
            case ("email", "to" or "cc"):
                var bad = text.Split([',', ';']).Select(p => p.Trim())
                    .FirstOrDefault(p => !MimeKit.MailboxAddress.TryParse(p, out var address) || !address.Address.Contains('@', StringComparison.Ordinal));
                return bad is null ? null : $"'{field}': '{bad}' is not one email address";
            default:
                return null;
        }
    }

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

    /// <summary>A template's text before its first <c>{{</c>: the part the author fixed.</summary>
    private static string LiteralPrefix(string template)
    {
        var index = template.IndexOf("{{", StringComparison.Ordinal);
        return index < 0 ? template : template[..index];
    }

    /// <summary>Errors in a playbook that leave the rest of it worth compiling (one pass: every independent error at once).</summary>
    private static readonly HashSet<DiagnosticDescriptor> IndependentErrors =
    [
        DiagnosticDescriptors.BadCron, DiagnosticDescriptors.BadTimeZone, DiagnosticDescriptors.UnknownChannel, DiagnosticDescriptors.ChannelKind,
        DiagnosticDescriptors.DuplicateRule, DiagnosticDescriptors.WebhookTarget, DiagnosticDescriptors.BadDuration,
    ];

    private static readonly string[] ReservedFileNames = [RunnerFileName, "runner.yml", "suppressions.yaml", "suppressions.yml"];

    /// <summary>Loads the playbooks named by <paramref name="paths"/> (files or folders).</summary>
    public static WorkspaceDefinition? Load(IReadOnlyList<string> paths, DiagnosticBag diagnostics) => Load(paths, diagnostics, requirePlaybooks: true);

    /// <summary>Loads the workspace; with <paramref name="requirePlaybooks"/> false, runner.yaml alone is enough.</summary>
    public static WorkspaceDefinition? Load(IReadOnlyList<string> paths, DiagnosticBag diagnostics, bool requirePlaybooks)
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
            return Confine(alone with { Files = reader.Read, Roots = WorkspacePaths.Roots(alone.Root, []) }, diagnostics);
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
        return LoadFiles(runner, files, reader, diagnostics, named: named);
    }

    /// <summary>
    /// Loads exactly the version of a workspace that <paramref name="snapshot"/> holds, whatever the files
    /// on disk say by now (the daemon's evaluation worker).
    /// </summary>
    public static WorkspaceDefinition? Load(WorkspaceSnapshot snapshot, DiagnosticBag diagnostics)
    {
        if (snapshot.Playbooks.Count == 0)
        {
            diagnostics.Add(DiagnosticDescriptors.NoPlaybooks, SourceLocation.None, "the snapshot");
            return null;
        }

        return LoadFiles(snapshot.RunnerPath, snapshot.Playbooks, new FileReader(snapshot.Files), diagnostics, snapshot.Root, [snapshot.Root]);
    }

    private static WorkspaceDefinition LoadFiles(string? runner, IReadOnlyList<string> files, FileReader reader, DiagnosticBag diagnostics, string? root = null, IReadOnlyList<string>? named = null)
    {
        root ??= runner is not null ? Path.GetDirectoryName(runner)! : Path.GetDirectoryName(files[0])!;
        var workspace = runner is not null ? LoadRunner(runner, reader, diagnostics) : EmptyWorkspace(root);
        workspace = workspace with { Roots = WorkspacePaths.Roots(workspace.Root, named ?? []) };
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
            foreach (var field in playbook.Rules.SelectMany(r => r.Actions).Where(a => a.Type == "file").SelectMany(a => a.Fields).Where(f => f.Name == "path"))
            {
                // The template's own text up to its first value: values add no segments, so its folder is where the file lands.
                if (field.Template is { } template && LiteralPrefix(template.Value) is var fixedPart
                    && OutputPaths.Problem(Path.Combine(Path.GetDirectoryName(playbook.Path)!, fixedPart.Length == template.Value.Length ? fixedPart : fixedPart[..(fixedPart.LastIndexOfAny(['/', '\\']) + 1)]), template.Value, workspace) is { } problem)
                {
                    diagnostics.Add(DiagnosticDescriptors.PathOutside, field.Location, problem);
                }
            }

            foreach (var header in playbook.Rules.SelectMany(r => r.Actions).Where(a => a.Type == "webhook").SelectMany(a => a.Fields)
                .Where(f => f.Name == "headers").SelectMany(f => f.Children ?? []).Where(h => Execution.ActionExecutor.ReservedHeaders.Contains(h.Name)))
            {
                diagnostics.Add(DiagnosticDescriptors.ActionFieldInvalid, header.Location, $"Header '{header.Name}' is set by the HTTP client or the engine, not by a playbook");
            }

            foreach (var (action, field) in playbook.Rules.SelectMany(r => r.Actions).SelectMany(a => a.Fields.Select(f => (a, f))))
            {
                if (field.Template is { } literal && !literal.Value.Contains("{{", StringComparison.Ordinal) && LiteralProblem(action.Type, field.Name, literal.Value) is { } problem)
                {
                    diagnostics.Add(DiagnosticDescriptors.ActionFieldInvalid, field.Location, problem);
                }
            }

            foreach (var field in playbook.Rules.SelectMany(r => r.Actions).Where(a => a.Type == "webhook").SelectMany(a => a.Fields).Where(f => f.Name == "url"))
            {
                if (field.Template is { } template && LiteralPrefix(template.Value) is var fixedPart && fixedPart.Length < template.Value.Length
                    && !Evaluation.TemplateRenderer.HasFixedAuthority(fixedPart))
                {
                    diagnostics.Add(DiagnosticDescriptors.UrlHostFromData, field.Location, template.Value);
                }
            }
        }

        var policy = SecretPolicy.Current;
        foreach (var source in sources)
        {
            CheckSecrets($"source '{source.Name}'", source.Options, source.LocationOf, policy, diagnostics);
        }

        foreach (var channel in workspace.Channels.Values)
        {
            CheckSecrets($"channel '{channel.Name}'", channel.Settings, _ => channel.Location, policy, diagnostics);
            foreach (var header in channel.Settings.Keys.Where(k => k.StartsWith("headers.", StringComparison.Ordinal)).Select(k => k["headers.".Length..])
                .Where(Execution.ActionExecutor.ReservedHeaders.Contains))
            {
                diagnostics.Add(DiagnosticDescriptors.ActionFieldInvalid, channel.Location, $"Header '{header}' of channel '{channel.Name}' is set by the HTTP client or the engine, not by a workspace");
            }
        }

        CheckSecrets("state store", workspace.State.Settings, _ => workspace.State.Location, policy, diagnostics);

        var allowed = (Environment.GetEnvironmentVariable(PluginFoldersVariable) ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(f => WorkspacePaths.RealPath(f)).ToList();
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

    private static List<SuppressionDefinition> LoadSuppressions(string path, FileReader reader, DiagnosticBag diagnostics)
    {
        if (!reader.Exists(path) || reader.Node(path, diagnostics) is not { } node
            || !YamlSchemaValidator.ForEmbedded("suppressions.schema.json").Validate(node, diagnostics))
        {
            return [];
        }

        var result = new List<SuppressionDefinition>();
        foreach (var item in ((YamlSequence)((YamlMapping)node)["suppressions"]!).Items.Cast<YamlMapping>())
        {
            DateOnly? until = null;
            if (item["until"] is YamlScalar untilNode)
            {
                if (DateOnly.TryParseExact(untilNode.Value, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var date))
                {
                    until = date;
                }
                else
                {
                    diagnostics.Add(DiagnosticDescriptors.PatternMismatch, untilNode.Location, untilNode.Value, "until", "not a calendar date");
                    continue;
                }
            }

            result.Add(new SuppressionDefinition(item.Text("rule")!, item.Text("key"), until, item.Text("justification")!, item.Location));
        }

        return result;
    }

    private static bool IsReserved(string path) =>
        ReservedFileNames.Contains(Path.GetFileName(path), StringComparer.Ordinal)
        || path.EndsWith(".test.yaml", StringComparison.Ordinal) || path.EndsWith(".test.yml", StringComparison.Ordinal);

    private static bool IsPlaybookFile(string path) =>
        (path.EndsWith(".yaml", StringComparison.Ordinal) || path.EndsWith(".yml", StringComparison.Ordinal)) && !IsReserved(path);

    private static string? FindRunner(string directory)
    {
        for (var dir = new DirectoryInfo(directory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, RunnerFileName);
            if (File.Exists(candidate))
            {
                return candidate;
            }

            if (Directory.Exists(Path.Combine(dir.FullName, ".git")))
            {
                break;
            }
        }

        return null;
    }

    private static WorkspaceDefinition EmptyWorkspace(string root) => new(
        root, null, new Dictionary<string, SourceDefinition>(), new Dictionary<string, ChannelDefinition>(),
        DefaultState(root), [], new Dictionary<string, string>(), []);

    private static StateDefinition DefaultState(string root) =>
        new("sqlite", new Dictionary<string, string> { ["path"] = "playbook-state.db" }, root);

    private static WorkspaceDefinition LoadRunner(string path, FileReader reader, DiagnosticBag diagnostics)
    {
        var root = Path.GetDirectoryName(path)!;
        var empty = EmptyWorkspace(root) with { RunnerPath = path };
        if (reader.Node(path, diagnostics) is not { } node)
        {
            return empty with { RunnerBroken = true };
        }

        var validator = YamlSchemaValidator.ForEmbedded("runner.schema.json");
        var written = SourceAndChannelNames(node);
        if (!validator.Validate(node, diagnostics))
        {
            // Reported; what is valid still loads, so one broken source or channel is one error, not one per playbook.
            if (validator.Salvage(node) is not { } salvaged)
            {
                return empty with { RunnerBroken = true };
            }

            node = salvaged;
        }

        if (node is not YamlMapping map)
        {
            return empty with { RunnerBroken = true };
        }

        var defaultZone = ReadZone(map, "timezone", "UTC", diagnostics);
        var sources = new Dictionary<string, SourceDefinition>(StringComparer.Ordinal);
        if (map["sources"] is YamlMapping sourceMap)
        {
            foreach (var (key, value) in sourceMap.Entries)
            {
                if (ReadSource(key.Value, (YamlMapping)value, root, defaultZone, diagnostics) is { } source)
                {
                    sources[key.Value] = source;
                }
            }
        }

        var channels = new Dictionary<string, ChannelDefinition>(StringComparer.Ordinal);
        if (map["channels"] is YamlMapping channelMap)
        {
            foreach (var (key, value) in channelMap.Entries)
            {
                var channel = (YamlMapping)value;
                channels[key.Value] = new ChannelDefinition(key.Value, channel.Text("kind")!, Settings(channel, "kind"), key.Location);
            }
        }

        var state = map["state"] is YamlMapping stateMap
            ? new StateDefinition(stateMap.Text("kind")!, Settings(stateMap, "kind"), root) { Location = stateMap.Location }
            : DefaultState(root);
        var pluginScalars = map["plugins"] is YamlSequence pluginList ? pluginList.Items.OfType<YamlScalar>().ToList() : [];
        var plugins = pluginScalars.Select(s => Path.GetFullPath(Path.Combine(root, s.Value))).ToList();
        var pluginLocations = pluginScalars.Zip(plugins).GroupBy(p => p.Second, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().First.Location, StringComparer.Ordinal);
        var overrides = map["severity_overrides"] is YamlMapping overrideMap
            ? overrideMap.Entries.ToDictionary(e => e.Key.Value, e => ((YamlScalar)e.Value).Value, StringComparer.Ordinal)
            : new Dictionary<string, string>(StringComparer.Ordinal);
        var execution = map["execution"] is YamlMapping executionMap ? Settings(executionMap) : new Dictionary<string, string>(StringComparer.Ordinal);
        return new WorkspaceDefinition(root, path, sources, channels, state, plugins, overrides, [])
        {
            Execution = execution,
            ExecutionOptions = ExecutionOptions.From(execution),
            DefaultTimeZone = defaultZone,
            PluginLocations = pluginLocations,
            BrokenSources = written.Sources.Where(n => !sources.ContainsKey(n)).ToHashSet(StringComparer.Ordinal),
            BrokenChannels = written.Channels.Where(n => !channels.ContainsKey(n)).ToHashSet(StringComparer.Ordinal),
        };
    }

    /// <summary>The source and channel names runner.yaml writes, valid or not.</summary>
    private static (IReadOnlyList<string> Sources, IReadOnlyList<string> Channels) SourceAndChannelNames(YamlNode node)
    {
        static IReadOnlyList<string> Names(YamlNode? section) => section is YamlMapping m ? [.. m.Entries.Select(e => e.Key.Value)] : [];
        return node is YamlMapping map ? (Names(map["sources"]), Names(map["channels"])) : ([], []);
    }

    /// <summary>Scalar settings by key; a nested mapping (headers) is flattened as <c>headers.Name</c>.</summary>
    private static Dictionary<string, string> Settings(YamlMapping map, params string[] except)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in map.Entries.Where(e => !except.Contains(e.Key.Value)))
        {
            if (value is YamlScalar scalar)
            {
                settings[key.Value] = scalar.Value;
            }
            else if (value is YamlMapping nested)
            {
                foreach (var (innerKey, innerValue) in nested.Entries.Where(e => e.Value is YamlScalar))
                {
                    settings[$"{key.Value}.{innerKey.Value}"] = ((YamlScalar)innerValue).Value;
                }
            }
        }

        return settings;
    }

    private static string ReadZone(YamlMapping map, string key, string fallback, DiagnosticBag diagnostics)
    {
        if (map[key] is not YamlScalar zone)
        {
            return fallback;
        }

        if (TimeZoneInfo.TryFindSystemTimeZoneById(zone.Value, out var found) && found.HasIanaId)
        {
            return zone.Value;
        }

        diagnostics.Add(DiagnosticDescriptors.BadTimeZone, zone.Location, zone.Value,
            Yaml.YamlSchemaValidator.Suggest(zone.Value, TimeZoneInfo.GetSystemTimeZones().Where(z => z.HasIanaId).Select(z => z.Id)));
        return fallback;
    }

    private static CronSchedule? ReadCron(YamlMapping map, DiagnosticBag diagnostics)
    {
        if (map["schedule"] is not YamlScalar text)
        {
            return null;
        }

        var parts = text.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string? problem = null;
        if (parts.Length == 1 && parts[0].StartsWith('@'))
        {
            // Cronos's macros: @hourly, @daily (@midnight), @weekly, @monthly, @yearly (@annually), @every_minute, @every_second.
            try
            {
                return new CronSchedule(text.Value, Cronos.CronExpression.Parse(parts[0], Cronos.CronFormat.IncludeSeconds), text.Location);
            }
            catch (Cronos.CronFormatException)
            {
                problem = $"'{parts[0]}' is not a macro; use @hourly, @daily, @midnight, @weekly, @monthly or @yearly";
            }
        }
        else if (parts.Length == 7)
        {
            problem = "7 fields: a year field is not supported; use 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first";
        }
        else if (parts.Length is not (5 or 6))
        {
            problem = $"expected 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or a macro such as @daily; found {parts.Length}";
        }
        else
        {
            try
            {
                var expression = Cronos.CronExpression.Parse(text.Value, parts.Length == 6 ? Cronos.CronFormat.IncludeSeconds : Cronos.CronFormat.Standard);
                return new CronSchedule(text.Value, expression, text.Location);
            }
            catch (Cronos.CronFormatException ex)
            {
                problem = CronProblem(parts, ex.Message);
            }
        }

        diagnostics.Add(DiagnosticDescriptors.BadCron, text.Location, text.Value, problem);
        return null;
    }

    /// <summary>Which field of a cron expression is wrong, and the forms it accepts.</summary>
    private static string CronProblem(string[] parts, string message)
    {
        (string Prefix, string Name, string Accepted)[] fields =
        [
            ("Seconds", "second", "0-59"),
            ("Minutes", "minute", "0-59"),
            ("Hours", "hour", "0-23"),
            ("Days of month", "day of month", "1-31, L (last day) or W (nearest weekday)"),
            ("Months", "month", "1-12 or JAN-DEC"),
            ("Days of week", "day of week", "0-7 or SUN-SAT (0 and 7 are Sunday), # (2nd Monday: MON#2) or L"),
        ];
        var offset = parts.Length == 6 ? 0 : 1;
        for (var i = offset; i < fields.Length; i++)
        {
            if (message.Contains(fields[i].Prefix + ":", StringComparison.Ordinal))
            {
                var position = i - offset;
                var seconds = parts.Length == 6 ? " (6 fields are read with seconds first; a year field is not supported)" : "";
                return $"field {position + 1} ({fields[i].Name}) '{parts[position]}': use {fields[i].Accepted}, with ranges (1-5), lists (1,3,5) and steps (*/15){seconds}";
            }
        }

        return message.Replace("The given cron expression has an invalid format. ", "", StringComparison.Ordinal).TrimEnd('.');
    }

    private static SpannedText Spanned(YamlScalar scalar) => new(scalar.Value, scalar.Location, scalar.ContentLines);

    private static SourceDefinition? ReadSource(string name, YamlMapping map, string baseDirectory, string defaultZone, DiagnosticBag diagnostics)
    {
        var kind = map.Text("kind")!;
        var fields = new List<FieldDefinition>();
        foreach (var (key, value) in ((YamlMapping)map["fields"]!).Entries)
        {
            var (typeText, column, location) = value switch
            {
                YamlScalar s => (s.Value, key.Value, s.Location),
                YamlMapping m => (m.Text("type")!, m.Text("column") ?? key.Value, m["type"]!.Location),
                _ => ("", key.Value, value.Location),
            };
            if (FieldType.TryParse(typeText, out var type))
            {
                fields.Add(new FieldDefinition(key.Value, type.Value, column, key.Location));
            }

            if (key.Value.StartsWith("__", StringComparison.Ordinal))
            {
                diagnostics.Add(DiagnosticDescriptors.NameClash, key.Location, key.Value, "the reserved names starting with '__'");
            }
        }

        var keyNode = (YamlScalar)map["key"]!;
        if (!fields.Exists(f => f.Name == keyNode.Value))
        {
            diagnostics.Add(DiagnosticDescriptors.BadKeyField, keyNode.Location, keyNode.Value, name);
        }
        else if (fields.Find(f => f.Name == keyNode.Value)!.Type.IsNullable)
        {
            diagnostics.Add(DiagnosticDescriptors.NullableKey, keyNode.Location, keyNode.Value, name);
        }

        var related = map["related"] is YamlMapping relatedMap
            ? relatedMap.Entries.Select(e => new RelatedDefinition(e.Key.Value, ((YamlMapping)e.Value).Text("source")!, ((YamlMapping)e.Value).Text("key")!, e.Key.Location)).ToList()
            : [];
        var options = Settings(map, "kind", "key", "fields", "timezone", "on_bad_row", "related");
        return new SourceDefinition(
            name,
            kind,
            keyNode.Value,
            fields,
            ReadZone(map, "timezone", defaultZone, diagnostics),
            map.Text("on_bad_row") == "skip" ? BadRowPolicy.Skip : BadRowPolicy.Fail,
            options,
            related,
            baseDirectory,
            map.Location,
            map.Entries.ToDictionary(e => e.Key.Value, e => e.Value.Location, StringComparer.Ordinal));
    }

    private static PlaybookDefinition? LoadPlaybook(string path, WorkspaceDefinition workspace, FileReader reader, DiagnosticBag diagnostics)
    {
        if (reader.Node(path, diagnostics) is not { } node)
        {
            return null;
        }

        var validator = YamlSchemaValidator.ForEmbedded("playbook.schema.json");
        if (!validator.Validate(node, diagnostics))
        {
            // Reported; the valid rest (other rules, the schedule, the time zone) is still checked and compiled.
            if (validator.Salvage(node) is not { } salvaged)
            {
                return null;
            }

            node = salvaged;
        }

        if (node is not YamlMapping map)
        {
            return null;
        }

        var before = diagnostics.Items.Count;
        var id = map.Text("playbook")!;
        var zone = ReadZone(map, "timezone", workspace.DefaultTimeZone, diagnostics);
        var schedule = ReadCron(map, diagnostics);
        var source = ResolveSource(map["source"]!, workspace, path, diagnostics);

        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var reserved in ReservedNames)
        {
            names[reserved] = $"a name PlaybookRunner defines in conditions or templates";
        }

        foreach (var field in source?.Fields ?? [])
        {
            if (ReservedNames.Contains(field.Name))
            {
                diagnostics.Add(DiagnosticDescriptors.NameClash, field.Location, field.Name, names[field.Name] + "; rename the field and read the column with column:");
            }

            names[field.Name] = $"a field of source '{source!.Name}'";
        }

        foreach (var related in source?.Related ?? [])
        {
            if (ReservedNames.Contains(related.Name) || related.Name.StartsWith("__", StringComparison.Ordinal))
            {
                diagnostics.Add(DiagnosticDescriptors.NameClash, related.Location, related.Name, "a name PlaybookRunner defines in conditions or templates, or one starting with '__'");
            }

            names.TryAdd(related.Name, $"a related list of source '{source!.Name}'");
        }

        var lets = ReadNamed(map["let"], "a let value", names, diagnostics);
        var segments = ReadNamed(map["segments"], "a segment", names, diagnostics);
        var rules = new List<RuleDefinition>();
        var ruleLines = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var item in ((YamlSequence)map["rules"]!).Items.Cast<YamlMapping>())
        {
            var rule = ReadRule(item, workspace, diagnostics);
            var idNode = item.KeyNode("id")!;
            if (ruleLines.TryGetValue(rule.Id, out var line))
            {
                diagnostics.Add(DiagnosticDescriptors.DuplicateRule, item["id"]!.Location, rule.Id, line);
                continue;
            }

            ruleLines[rule.Id] = idNode.Location.Line;
            rules.Add(rule);
        }

        // A bad schedule, time zone, channel or duplicate rule is reported and does not stop the conditions and
        // templates from being checked; a name clash would make them report the clash again, so it does.
        if (source is null || diagnostics.Items.Skip(before).Any(d => d.IsError && !IndependentErrors.Contains(d.Descriptor)))
        {
            return null;
        }

        return new PlaybookDefinition(id, path, map.Text("title"), map.Text("description"), zone, schedule, source,
            lets, segments, rules, map["playbook"]!.Location)
        {
            CatchUp = map.Text("catchup") != "none",
            MaxActions = map["max_actions"] is YamlScalar max
                ? (int.TryParse(max.Value, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var limit) ? limit : int.MaxValue, max.Location)
                : null,
        };
    }

    private static SourceDefinition? ResolveSource(YamlNode node, WorkspaceDefinition workspace, string path, DiagnosticBag diagnostics)
    {
        if (node is YamlMapping inline)
        {
            return ReadSource($"{Path.GetFileNameWithoutExtension(path)} (inline)", inline, Path.GetDirectoryName(path)!, workspace.DefaultTimeZone, diagnostics);
        }

        var name = ((YamlScalar)node).Value;
        if (workspace.Sources.TryGetValue(name, out var source))
        {
            return source;
        }

        if (workspace.RunnerBroken || workspace.BrokenSources.Contains(name))
        {
            // runner.yaml's error for it is reported; the playbook is left out rather than reported again.
            return null;
        }

        if (workspace.RunnerPath is null)
        {
            diagnostics.Add(DiagnosticDescriptors.NoSourcesFile, node.Location, name);
        }
        else
        {
            var known = workspace.Sources.Keys.Order(StringComparer.Ordinal).ToList();
            diagnostics.Add(DiagnosticDescriptors.UnknownSource, node.Location, name,
                known.Count == 0 ? " in runner.yaml" : $" in runner.yaml (known: {string.Join(", ", known)})");
        }

        return null;
    }

    private static List<NamedExpression> ReadNamed(YamlNode? node, string what, Dictionary<string, string> names, DiagnosticBag diagnostics)
    {
        var result = new List<NamedExpression>();
        if (node is not YamlMapping map)
        {
            return result;
        }

        foreach (var (key, value) in map.Entries)
        {
            if (key.Value.StartsWith("__", StringComparison.Ordinal))
            {
                diagnostics.Add(DiagnosticDescriptors.NameClash, key.Location, key.Value, "the reserved names starting with '__'");
                continue;
            }

            if (names.TryGetValue(key.Value, out var existing))
            {
                diagnostics.Add(DiagnosticDescriptors.NameClash, key.Location, key.Value, existing);
                continue;
            }

            names[key.Value] = what;
            result.Add(new NamedExpression(key.Value, Spanned((YamlScalar)value), key.Location));
        }

        return result;
    }

    private static RuleDefinition ReadRule(YamlMapping map, WorkspaceDefinition workspace, DiagnosticBag diagnostics)
    {
        Duration? cooldown = null;
        if (map["cooldown"] is YamlScalar cooldownText)
        {
            if (Duration.TryParse(cooldownText.Value, out var parsed))
            {
                cooldown = parsed;
            }
            else
            {
                diagnostics.Add(DiagnosticDescriptors.BadDuration, cooldownText.Location, cooldownText.Value);
            }
        }

        var severity = map.Text("severity") switch
        {
            "info" => Severity.Info,
            "critical" => Severity.Critical,
            _ => Severity.Warning,
        };
        var actions = map["actions"] is YamlSequence list
            ? list.Items.Cast<YamlMapping>().Select(a => ReadAction(a, workspace, diagnostics)).ToList()
            : [];
        return new RuleDefinition(
            map.Text("id")!,
            map.Text("title"),
            map.Text("description"),
            severity,
            Spanned((YamlScalar)map["when"]!),
            cooldown,
            ReadCron(map, diagnostics),
            map["message"] is YamlScalar message ? Spanned(message) : null,
            actions,
            map.Location);
    }

    private static ActionDefinition ReadAction(YamlMapping map, WorkspaceDefinition workspace, DiagnosticBag diagnostics)
    {
        var type = map.Text("type")!;
        var fields = new List<ActionField>();
        foreach (var (key, value) in map.Entries)
        {
            if (key.Value == "type")
            {
                continue;
            }

            fields.Add(value switch
            {
                YamlMapping children => new ActionField(key.Value, null, null,
                    children.Entries.Select(c => new ActionField(c.Key.Value, Spanned((YamlScalar)c.Value), null, null, c.Key.Location)).ToList(), key.Location),
                YamlScalar { IsBool: true } flag when key.Value == "html" => new ActionField(key.Value, null, flag.AsBool, null, key.Location),
                YamlScalar scalar => new ActionField(key.Value, Spanned(scalar), null, null, key.Location),
                _ => new ActionField(key.Value, null, null, null, key.Location),
            });
        }

        var action = new ActionDefinition(type, fields, map.Location) { TypeLocation = map["type"]!.Location };
        switch (type)
        {
            case "email":
                CheckChannel(action.Field("channel")?.Template?.Value ?? "default", action.Field("channel")?.Template?.Location ?? map.Location, "email", "smtp", workspace, diagnostics);
                break;
            case "webhook":
                var channel = action.Field("channel");
                if ((channel is null) == (action.Field("url") is null))
                {
                    diagnostics.Add(DiagnosticDescriptors.WebhookTarget, map.Location with { EndLine = map.Location.Line, EndColumn = map.Location.Column + 1 });
                }
                else if (channel?.Template is { } name)
                {
                    CheckChannel(name.Value, name.Location, "webhook", "webhook", workspace, diagnostics);
                }

                break;
            case "file":
                break;
            default:
                // A plugin action type: checked against the loaded plugins by SourceBinder.
                break;
        }

        return action;
    }

    private static void CheckChannel(string name, SourceLocation location, string action, string kind, WorkspaceDefinition workspace, DiagnosticBag diagnostics)
    {
        if (!workspace.Channels.TryGetValue(name, out var channel))
        {
            if (workspace.RunnerBroken || workspace.BrokenChannels.Contains(name))
            {
                return; // runner.yaml's error for it is reported
            }

            var known = workspace.Channels.Values.Where(c => c.Kind == kind).Select(c => c.Name).Order(StringComparer.Ordinal).ToList();
            diagnostics.Add(DiagnosticDescriptors.UnknownChannel, location, name,
                (known.Count == 0 ? "" : $" (known {kind} channels: {string.Join(", ", known)})") + Yaml.YamlSchemaValidator.Suggest(name, known));
        }
        else if (channel.Kind != kind)
        {
            diagnostics.Add(DiagnosticDescriptors.ChannelKind, location, name, channel.Kind, action, kind);
        }
    }
}
