using PlaybookRunner.Abstractions;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Yaml;

namespace PlaybookRunner.Core.Loading;

/// <summary>One playbook file: its source, lets, computed values and segments, rules and their actions, and the channels they name.</summary>
public static partial class WorkspaceLoader
{
    /// <summary>A template's text before its first <c>{{</c>: the part the author fixed.</summary>
    private static string LiteralPrefix(string template)
    {
        var index = template.IndexOf("{{", StringComparison.Ordinal);
        return index < 0 ? template : template[..index];
    }

    private static SpannedText Spanned(YamlScalar scalar) => new(scalar.Value, scalar.Location, scalar.ContentLines);

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
        var values = ReadNamed(map["values"], "a computed value", names, diagnostics);
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

        foreach (var rule in rules)
        {
            foreach (var (inhibited, location) in rule.Inhibits)
            {
                if (inhibited == rule.Id)
                {
                    diagnostics.Add(DiagnosticDescriptors.BadInhibits, location, rule.Id, inhibited, "the rule itself; a rule that holds cannot silence its own finding");
                }
                else if (!ruleLines.ContainsKey(inhibited))
                {
                    diagnostics.Add(DiagnosticDescriptors.BadInhibits, location, rule.Id, inhibited,
                        $"not a rule of this playbook{Yaml.YamlSchemaValidator.Suggest(inhibited, rules.Select(r => r.Id))} (a rule silences rules of its own playbook only)");
                }
            }
        }

        foreach (var (rule, (digest, location)) in rules.SelectMany(r => r.Digests.Select(d => (r, d))).Where(x => !workspace.Digests.ContainsKey(x.Item2.Digest)))
        {
            diagnostics.Add(DiagnosticDescriptors.UnknownDigest, location, rule.Id, digest,
                workspace.Digests.Count == 0 ? " (runner.yaml has no digests:)" : $" (digests: {string.Join(", ", workspace.Digests.Keys.Order(StringComparer.Ordinal))}){Yaml.YamlSchemaValidator.Suggest(digest, workspace.Digests.Keys)}");
        }

        foreach (var rule in rules.Where(r => r.Throttle?.OrderBy is not null && source is not null))
        {
            var order = rule.Throttle!.OrderBy!;
            if (!source!.Fields.Any(f => f.Name == order) && !values.Any(v => v.Name == order))
            {
                diagnostics.Add(DiagnosticDescriptors.BadOrderBy, rule.Throttle.OrderByLocation, order, rule.Id, source.Name,
                    Yaml.YamlSchemaValidator.Suggest(order, source.Fields.Select(f => f.Name).Concat(values.Select(v => v.Name))));
            }
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
            Values = values,
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
        var cooldown = ReadDuration(map, "cooldown", diagnostics);
        var waitFor = ReadDuration(map, "for", diagnostics);

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
            map.Location)
        {
            Inhibits = map["inhibits"] is YamlSequence inhibits ? [.. inhibits.Items.OfType<YamlScalar>().Select(i => (i.Value, i.Location))] : [],
            Throttle = map["throttle"] is YamlMapping throttle ? ReadThrottle(throttle) : null,
            Digests = map["digests"] is YamlSequence digests ? [.. digests.Items.OfType<YamlScalar>().Select(d => (d.Value, d.Location))] : [],
            For = waitFor,
            ForLocation = map["for"]?.Location ?? map.Location,
            OnResolve = map["on_resolve"] is YamlMapping resolve
                ? new ResolveDefinition(
                    resolve["message"] is YamlScalar resolveMessage ? Spanned(resolveMessage) : null,
                    resolve["actions"] is YamlSequence resolveActions ? [.. resolveActions.Items.Cast<YamlMapping>().Select(a => ReadAction(a, workspace, diagnostics))] : [],
                    map["on_resolve"]!.Location)
                : null,
        };
    }

    /// <summary>A rule's <c>throttle:</c> (the schema has checked its numbers and the form of <c>order_by</c>).</summary>
    internal static Throttle ReadThrottle(YamlMapping map)
    {
        static int? Number(YamlMapping map, string name) =>
            map[name] is YamlScalar n && int.TryParse(n.Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : null;
        var order = map.Text("order_by")?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return new Throttle(Number(map, "per_run"), Number(map, "per_day"), order?[0], order is [_, "desc"], map.Location)
        {
            OrderByLocation = map["order_by"]?.Location ?? map.Location,
        };
    }

    /// <summary>A duration option of a rule (<c>cooldown</c>, <c>for</c>); PB1011 at its place when it is not one.</summary>
    private static Duration? ReadDuration(YamlMapping map, string name, DiagnosticBag diagnostics)
    {
        if (map[name] is not YamlScalar text)
        {
            return null;
        }

        if (Duration.TryParse(text.Value, out var parsed))
        {
            return parsed;
        }

        diagnostics.Add(DiagnosticDescriptors.BadDuration, text.Location, text.Value);
        return null;
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
        var kind = ActionKind.Of(type);
        if (kind == ActionKind.Email && action.Field("html")?.Flag == true && action.Field("html_body") is { } htmlBody)
        {
            diagnostics.Add(DiagnosticDescriptors.EmailBodyConflict, htmlBody.Location);
        }

        if (kind.ChannelKind is { } channelKind)
        {
            // A plugin action type is checked against the loaded plugins by SourceBinder.
            var channel = action.Field("channel");
            if (kind.ChannelOrUrl && (channel is null) == (action.Field("url") is null))
            {
                diagnostics.Add(DiagnosticDescriptors.WebhookTarget, map.Location with { EndLine = map.Location.Line, EndColumn = map.Location.Column + 1 });
            }
            else if (kind.ChannelOf(channel?.Template?.Value) is { } name)
            {
                CheckChannel(name, channel?.Template?.Location ?? map.Location, type, channelKind, workspace, diagnostics);
            }
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
