using PlaybookRunner.Abstractions;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Yaml;

namespace PlaybookRunner.Core.Loading;

/// <summary>runner.yaml: sources, channels, state, plugins, time zones and schedules (cron), and suppressions.yaml.</summary>
public static partial class WorkspaceLoader
{
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
                if (DateOnly.TryParseExact(untilNode.Value, DateFormats.Date, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var date))
                {
                    until = date;
                }
                else
                {
                    diagnostics.Add(DiagnosticDescriptors.PatternMismatch, untilNode.Location, untilNode.Value, "until", "not a calendar date");
                    continue;
                }
            }

            if (!RuleRef.TryParse(item.Text("rule")!, out var rule))
            {
                // The schema's pattern admits only playbook/rule and patterns of them: this is a second line of defence.
                diagnostics.Add(DiagnosticDescriptors.PatternMismatch, item.Location, item.Text("rule")!, "rule", "not playbook-id/rule-id, playbook-id/* or a pattern such as */*");
                continue;
            }

            result.Add(new SuppressionDefinition(rule, item.Text("key"), until, item.Text("justification")!, item.Location));
        }

        return result;
    }

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
        var workspace = new WorkspaceDefinition(root, path, sources, channels, state, plugins, overrides, [])
        {
            Calendar = map["calendar"] is YamlMapping calendar ? ReadCalendar(calendar, diagnostics) : CalendarDefinition.Default,
            Report = map["report"] is YamlMapping report
                ? new ReportDefinition(report.Text("owner"), report.Text("sort_by")?.Split(' ')[0], report.Text("sort_by")?.EndsWith(" desc", StringComparison.Ordinal) == true)
                : ReportDefinition.Default,
            Execution = execution,
            ExecutionOptions = ExecutionOptions.From(execution),
            DefaultTimeZone = defaultZone,
            PluginLocations = pluginLocations,
            BrokenSources = written.Sources.Where(n => !sources.ContainsKey(n)).ToHashSet(StringComparer.Ordinal),
            BrokenChannels = written.Channels.Where(n => !channels.ContainsKey(n)).ToHashSet(StringComparer.Ordinal),
        };

        // Digests last: their actions' channels are checked against the channels above.
        var digests = new Dictionary<string, DigestDefinition>(StringComparer.Ordinal);
        foreach (var (key, value) in (map["digests"] as YamlMapping)?.Entries ?? [])
        {
            var digest = (YamlMapping)value;
            digests[key.Value] = new DigestDefinition(key.Value, Spanned((YamlScalar)digest["group_by"]!), ReadAction((YamlMapping)digest["action"]!, workspace, diagnostics), key.Location);
        }

        return workspace with { Digests = digests };
    }

    /// <summary>
    /// <c>calendar:</c>: <c>working_days</c> (mon to sun, default mon to fri) and <c>holidays</c> (dates). A date that is
    /// not one is reported at its position (the schema checks the shape); the rest of the calendar still counts.
    /// </summary>
    private static CalendarDefinition ReadCalendar(YamlMapping map, DiagnosticBag diagnostics)
    {
        var names = new Dictionary<string, DayOfWeek>(StringComparer.Ordinal)
        {
            ["mon"] = DayOfWeek.Monday, ["tue"] = DayOfWeek.Tuesday, ["wed"] = DayOfWeek.Wednesday, ["thu"] = DayOfWeek.Thursday,
            ["fri"] = DayOfWeek.Friday, ["sat"] = DayOfWeek.Saturday, ["sun"] = DayOfWeek.Sunday,
        };
        var working = map["working_days"] is YamlSequence days
            ? days.Items.OfType<YamlScalar>().Where(d => names.ContainsKey(d.Value)).Select(d => names[d.Value]).Distinct().ToList()
            : [.. CalendarDefinition.Default.WorkingDays];
        var holidays = new List<DateOnly>();
        foreach (var item in map["holidays"] is YamlSequence list ? list.Items.OfType<YamlScalar>() : [])
        {
            if (DateOnly.TryParseExact(item.Value, DateFormats.Date, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var date))
            {
                holidays.Add(date);
            }
            else
            {
                diagnostics.Add(DiagnosticDescriptors.PatternMismatch, item.Location, item.Value, "holidays", "not a calendar date (yyyy-MM-dd)");
            }
        }

        return working.Count == 0 ? CalendarDefinition.Default with { Holidays = holidays } : new CalendarDefinition(working, holidays);
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
            else if (value is YamlSequence list)
            {
                // A list of names (allow_from): the schema has checked that none holds a comma.
                settings[key.Value] = string.Join(',', list.Items.OfType<YamlScalar>().Select(i => i.Value));
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
}
