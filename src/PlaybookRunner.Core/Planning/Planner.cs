using System.Globalization;
using System.Text.Json;
using PlaybookRunner.Core.Compilation;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Evaluation;
using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Sources;
using Scriban.Runtime;

namespace PlaybookRunner.Core.Planning;

/// <summary>
/// Reads each source once, evaluates every playbook over its records, applies severity overrides and
/// cooldowns, and renders messages and actions. No side effects: nothing is sent or written.
/// </summary>
internal static class Planner
{

    public static async Task<Plan?> PlanAsync(
        CompiledWorkspace workspace,
        DateTimeOffset asOf,
        IFiringHistory history,
        Plugins.PluginCatalog catalog,
        Secrets secrets,
        DiagnosticBag diagnostics,
        CancellationToken cancellationToken,
        PlanScope? scope = null,
        Func<SourceDefinition, IReadOnlyList<SourceRow>>? rows = null,
        IProgress<long>? progress = null)
    {
        var records = new Dictionary<SourceDefinition, List<GeneratedRecord>>();
        var planDiagnostics = new List<Diagnostic>();
        var recordCount = 0;
        var units = workspace.Playbooks.Where(u => scope is null || u.Definition.Id == scope.Playbook).ToList();
        var needed = units.Select(u => u.Definition.Source)
            .SelectMany(s => s.Related.Select(r => workspace.Definition.Sources[r.Source]).Prepend(s))
            .ToHashSet();
        var relatedTargets = units.SelectMany(u => u.Definition.Source.Related.Select(r => workspace.Definition.Sources[r.Source])).ToHashSet();
        // A csv file can be read again, so its records stream through the evaluation instead of being
        // held; related sources (looked up by key) and other kinds are read into memory once.
        bool Streams(SourceDefinition source) => rows is null && source.Kind == "csv" && !relatedTargets.Contains(source);
        foreach (var source in workspace.Sources.Where(s => needed.Contains(s) && !Streams(s)))
        {
            var result = rows is null
                ? await SourceReader.ReadAsync(source, catalog, secrets, cancellationToken)
                : new SourceReadResult(rows(source), [], false);
            diagnostics.AddRange(result.Diagnostics);
            planDiagnostics.AddRange(result.Diagnostics.Where(d => !d.IsError));
            if (result.Failed)
            {
                continue;
            }

            var factory = workspace.RecordFactories[source].Create;
            records[source] = [.. result.Rows.Select(r => factory(r.Values))];
            if (units.Any(p => p.Definition.Source == source))
            {
                recordCount += result.Rows.Count;
            }
        }

        if (diagnostics.HasErrors)
        {
            return null;
        }

        AttachRelated(workspace, records);
        var host = workspace.Definition.Host;
        var spool = new FindingSpool(host.FindingsInMemory, host.SpillFolder);
        var throttles = new Throttles(workspace.Definition, history, asOf);
        var digests = new DigestCollector(workspace, asOf);
        var errors = new List<Diagnostic>();
        var streamed = new HashSet<SourceDefinition>();
        try
        {
            foreach (var unit in units)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var playbook = unit.Definition;
                var budget = workspace.Definition.ExecutionOptions.EvaluationBudget;
                // Each finding is rendered soon after it fires, on a thread of its own while the conditions go on (the record
                // is let go after it), and handed to the spool; rendering has its loop, recursion and output limits, and the
                // evaluation's time budget leaves it out.
                using var render = new RenderPipeline(FindingRenderer(workspace, unit, asOf, history, scope, spool, errors, throttles, digests));
                EvaluationSink sink;
                try
                {
                    if (records.TryGetValue(playbook.Source, out var held))
                    {
                        sink = unit.Run(held, held, asOf, history, budget, render);
                        // An evaluation stopped early (budget, let) still renders what fired before it stopped.
                        render.Finish();
                    }
                    else
                    {
                        var stream = await RecordStream.EvaluateAsync(workspace, unit, records, catalog, secrets, asOf, history, budget, progress, render, cancellationToken);
                        render.Finish();
                        // Every playbook on a file reads it again; its diagnostics and count are reported once.
                        if (streamed.Add(playbook.Source))
                        {
                            diagnostics.AddRange(stream.Diagnostics);
                            planDiagnostics.AddRange(stream.Diagnostics.Where(d => !d.IsError));
                            recordCount += stream.Count;
                        }
                        else
                        {
                            diagnostics.AddRange(stream.Diagnostics.Where(d => d.IsError));
                        }

                        if (stream.Sink is not { } streamedSink)
                        {
                            continue;
                        }

                        sink = streamedSink;
                    }
                }
                catch (SpillFailedException ex)
                {
                    spool.Abandon();
                    diagnostics.Add(DiagnosticDescriptors.SpillFailed, SourceLocation.None, host.FindingsInMemory, host.SpillFolder, ex.Message);
                    return null;
                }

                foreach (var error in sink.Errors)
                {
                    errors.Add(Diagnostic.About(DiagnosticDescriptors.ConditionThrew, playbook.Id, RuleOf(error.Where), error.Key.Length == 0 ? null : error.Key,
                        error.Where, error.Key, Describe(error.Exception)));
                }

                if (sink.BudgetExceeded)
                {
                    var descriptor = sink.BudgetMemory ? DiagnosticDescriptors.MemoryExceeded : DiagnosticDescriptors.BudgetExceeded;
                    var limit = !sink.BudgetMemory ? (long)budget.TotalMilliseconds
                        : sink.OutOfMemory ? HeapLimit.Megabytes ?? 0
                        : sink.MemoryAllowance / (1024 * 1024);
                    errors.Add(Diagnostic.About(descriptor, playbook.Id, RuleOf(sink.BudgetWhere), sink.BudgetKey,
                        playbook.Id, limit, sink.BudgetKey, sink.BudgetWhere));
                }
            }
        }
        catch
        {
            // Cancelled, or failed in a way not reported as a diagnostic: the spill's thread and files are let go.
            spool.Abandon();
            throw;
        }

        if (diagnostics.HasErrors)
        {
            // A streamed source failed part-way: what was evaluated is incomplete, so there is no plan.
            spool.Abandon();
            return null;
        }

        IReadOnlyList<PlannedFinding> findings;
        try
        {
            findings = spool.Complete(throttles);
        }
        catch (IOException ex)
        {
            spool.Abandon();
            diagnostics.Add(DiagnosticDescriptors.SpillFailed, SourceLocation.None, host.FindingsInMemory, host.SpillFolder, ex.Message.TrimEnd('.'));
            return null;
        }

        var digestActions = digests.IsEmpty ? [] : digests.Render(throttles.DeferredFindings, errors);
        errors.Sort((a, b) =>
        {
            var c = string.CompareOrdinal(a.Playbook, b.Playbook);
            c = c != 0 ? c : string.CompareOrdinal(a.Rule, b.Rule);
            c = c != 0 ? c : string.CompareOrdinal(a.Key, b.Key);
            return c != 0 ? c : string.CompareOrdinal(a.Message, b.Message);
        });
        var summary = spool.Summary(recordCount, errors.Count, digestActions.Count);
        var tracked = units.SelectMany(u => u.Definition.Rules.Where(r => r.IsTracked && (scope is null || scope.Rules.Contains(r.Id))).Select(r => $"{u.Definition.Id}/{r.Id}")).ToList();
        return new Plan(asOf, findings, errors, DiagnosticBag.Sort(planDiagnostics), summary)
        {
            Pending = digestActions.Count == 0 ? spool.Pending : null,
            Tracked = tracked,
            Digests = digestActions,
            DigestDirectory = workspace.Definition.RunnerDirectory,
            Report = workspace.Definition.Report,
        };
    }

    /// <summary>
    /// What renders one playbook's findings as they fire: the severity override, the cooldown, the suppression,
    /// the message and the actions; a rendered finding goes to <paramref name="spool"/>, a failed one to
    /// <paramref name="errors"/> (PB5002, located at the template when run would certainly fail on it).
    /// </summary>
    private static Action<RawFinding, object?[]> FindingRenderer(
        CompiledWorkspace workspace,
        CompiledPlaybookUnit unit,
        DateTimeOffset asOf,
        IFiringHistory history,
        PlanScope? scope,
        FindingSpool spool,
        List<Diagnostic> errors,
        Throttles? throttles = null,
        DigestCollector? digests = null)
    {
        var playbook = unit.Definition;
        var helpers = new TemplateHelpers(asOf, playbook.TimeZone)
        {
            History = history,
            Playbook = playbook,
            Calendar = new Runtime.BusinessCalendar(workspace.Definition.Calendar.WorkingDays, workspace.Definition.Calendar.Holidays),
        };
        // The names every finding of a rule shares (rule, playbook, now, the helpers): made once per rule, read-only.
        var shared = new ScriptObject?[playbook.Rules.Count];
        var severities = playbook.Rules.Select(r => EffectiveSeverity(workspace.Definition, playbook, r)).ToArray();
        var names = FindingValues.Names(playbook);
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(asOf, playbook.TimeZone).DateTime);
        var relatedSources = playbook.Source.Related.Select(r => workspace.Definition.Sources[r.Source]).ToList();
        var baseDirectory = Path.GetDirectoryName(playbook.Path)!;
        var checks = new PreflightChecks(workspace.Definition);
        // The worklist's owner and order (runner.yaml report:), from a field or a computed value of this playbook's.
        (int Field, int Value) Named(string? name) => name is null ? (-1, -1)
            : (playbook.Source.Fields.ToList().FindIndex(f => f.Name == name), playbook.Values.ToList().FindIndex(v => v.Name == name));
        var owner = Named(workspace.Definition.Report.Owner);
        var sortBy = Named(workspace.Definition.Report.SortBy);
        object? Read((int Field, int Value) at, RawFinding raw) => at.Field >= 0 ? raw.Record.GetField(at.Field) : at.Value >= 0 ? raw.Values[at.Value] : null;
        // A throttled rule's findings wait for the decision, each with the value its queue is ordered by (a field or a computed value).
        var queues = playbook.Rules.Select(r => throttles?.Queues(r) == true).ToArray();
        var orderBy = playbook.Rules.Select(r => Named(r.Throttle?.OrderBy)).ToArray();
        return (raw, lets) =>
        {
            var rule = playbook.Rules[raw.RuleIndex];
            if ((scope is not null && !scope.Rules.Contains(rule.Id)) || severities[raw.RuleIndex] is not { } severity)
            {
                return;
            }

            var key = raw.Record.Key;
            DateTimeOffset? heldBackUntil = null;
            if (!raw.Resolves && rule.Cooldown is { } cooldown && history.LastFired(playbook.Id, rule.Id, key) is { } last
                && cooldown.AddTo(last, playbook.TimeZone) is var until && until > asOf)
            {
                heldBackUntil = until;
            }

            // for: the hold the store followed up to the latest evaluation goes on; otherwise it starts now.
            DateTimeOffset? pendingSince = raw.Resolves ? raw.Since : null;
            DateTimeOffset? waitingUntil = null;
            if (!raw.Resolves && rule.IsTracked)
            {
                pendingSince = history.Holding(playbook.Id, rule.Id, key)?.Since ?? asOf;
                if (rule.For is { } wait && wait.AddTo(pendingSince.Value, playbook.TimeZone) is var fires && fires > asOf)
                {
                    waitingUntil = fires;
                }
            }

            SuppressionDefinition? suppression = null;
            foreach (var candidate in workspace.Definition.Suppressions)
            {
                if (candidate.Covers(playbook.Id, rule.Id, key, today))
                {
                    suppression = candidate;
                    break;
                }
            }

            var templates = raw.Resolves ? unit.Templates[raw.RuleIndex].Resolve! : unit.Templates[raw.RuleIndex];
            PlannedFinding finding;
            try
            {
                // The template globals (every field, related list, let and segment) only when something is rendered.
                helpers.CurrentKey = key;
                var past = new FindingHistory(history, playbook.Id, rule.Id, key);
                var globals = templates.Message is null && templates.Actions.Count == 0 && templates.Digests.Count == 0 ? null
                    : new TemplateScope(new FindingValues(names, playbook, relatedSources, raw, lets, past), shared[raw.RuleIndex] ??= Shared(playbook, rule, severity, asOf, helpers)) { Helpers = helpers };
                var message = templates.Message is not null ? TemplateRenderer.Render(templates.Message, globals!, TemplateSink.Text)
                    : raw.Resolves ? $"resolved: {rule.Title ?? rule.Id}" : rule.Title ?? rule.Id;
                var actions = templates.Actions.Count == 0 ? [] : new PlannedAction[templates.Actions.Count];
                for (var a = 0; a < actions.Length; a++)
                {
                    actions[a] = RenderAction(templates.Actions[a], globals!, checks, baseDirectory, workspace.Definition);
                }

                finding = new PlannedFinding(playbook.Id, rule.Id, raw.RuleIndex, key, severity, message, suppression is not null, actions)
                {
                    Justification = suppression?.Justification,
                    BaseDirectory = baseDirectory,
                    HeldBackUntil = heldBackUntil,
                    DeadLetter = raw.Resolves ? null : history.LastDeadLetter(playbook.Id, rule.Id, key),
                    // A rule turned off by severity_overrides (none) silences nothing.
                    InhibitedBy = raw.InhibitedBy >= 0 && severities[raw.InhibitedBy] is not null ? playbook.Rules[raw.InhibitedBy].Id : null,
                    PendingSince = pendingSince,
                    WaitingUntil = waitingUntil,
                    Resolves = raw.Resolves ? raw.FiredAt : null,
                    Owner = Read(owner, raw) is { } who && Convert.ToString(who, CultureInfo.InvariantCulture) is { Length: > 0 } ownerName ? ownerName : null,
                    SortValue = sortBy.Field >= 0 || sortBy.Value >= 0 ? PlanDocument.ValueLiteral(Read(sortBy, raw)) : null,
                    Values = playbook.Values.Count == 0 ? [] : [.. playbook.Values.Select((v, i) => (v.Name, PlanDocument.ValueLiteral(raw.Values[i])))],
                };
                if (!raw.Resolves && templates.Digests.Count > 0 && finding.State == FindingState.Pending && digests is not null)
                {
                    // Joins each digest's group; a group_by that renders nothing is this finding's error.
                    var groups = new List<(string, string)>(templates.Digests.Count);
                    foreach (var (name, groupBy) in templates.Digests)
                    {
                        var group = TemplateRenderer.Render(groupBy, globals!, TemplateSink.Text).Trim();
                        if (group.Length == 0)
                        {
                            throw new ActionFieldException($"digest '{name}' group_by", groupBy.Source.Location, "renders nothing: the finding belongs to no group", "renders nothing: the finding belongs to no group");
                        }

                        groups.Add((name, group));
                    }

                    finding = finding with { Digests = groups };
                    var fields = playbook.Source.Fields.Select((f, i) => (f.Name, ForTemplate(raw.Record.GetField(i), playbook.TimeZone)));
                    var values = playbook.Values.Select((v, i) => (v.Name, ForTemplate(raw.Values[i], playbook.TimeZone)));
                    foreach (var (name, group) in groups)
                    {
                        digests.Add(name, group, finding, rule.Title, fields, values);
                    }
                }
            }
            catch (ActionFieldException ex)
            {
                // What run would certainly fail on, located at the field's template; writers count the keys (preflight).
                errors.Add(Diagnostic.About(DiagnosticDescriptors.TemplateFailed, playbook.Id, rule.Id, key, $"rule '{rule.Id}'", key, ex.Message) with
                {
                    Location = ex.Location,
                    Problem = $"rule '{rule.Id}': {ex.Field} {ex.Problem}",
                });
                return;
            }
            catch (Exception ex) when (ex is not (OutOfMemoryException or OperationCanceledException))
            {
                errors.Add(Diagnostic.About(DiagnosticDescriptors.TemplateFailed, playbook.Id, rule.Id, key, $"rule '{rule.Id}'", key, Describe(ex)));
                return;
            }

            try
            {
                if (queues[raw.RuleIndex] && !raw.Resolves)
                {
                    spool.Queue(finding, Read(orderBy[raw.RuleIndex], raw));
                }
                else
                {
                    spool.Add(finding);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new SpillFailedException(ex.Message.TrimEnd('.'), ex);
            }
        };
    }

    /// <summary>Writing a large plan's findings to its spill files failed (PB5017); it ends the plan.</summary>
    private sealed class SpillFailedException(string message, Exception inner) : Exception(message, inner);

    /// <summary>Gives each record the read-only lists of its related records (spec section 4), matched by key.</summary>
    private static void AttachRelated(CompiledWorkspace workspace, Dictionary<SourceDefinition, List<GeneratedRecord>> records)
    {
        foreach (var (source, list) in records)
        {
            if (RelatedAttacher(workspace, source, records) is { } attach)
            {
                list.ForEach(attach);
            }
        }
    }

    /// <summary>
    /// What gives a record of <paramref name="source"/> the read-only lists of its related records
    /// (spec section 4), matched by key; null when the source has no related sources.
    /// </summary>
    internal static Action<GeneratedRecord>? RelatedAttacher(CompiledWorkspace workspace, SourceDefinition source, IReadOnlyDictionary<SourceDefinition, List<GeneratedRecord>> records)
    {
        if (source.Related.Count == 0)
        {
            return null;
        }

        var lookups = source.Related.Select(related =>
        {
            var target = workspace.Definition.Sources[related.Source];
            var keyIndex = target.Fields.ToList().FindIndex(f => f.Name == related.Key);
            return (ByKey: records[target].ToLookup(x => RecordKeys.FormatAny(x.GetField(keyIndex)), StringComparer.Ordinal), workspace.RecordFactories[target].MakeArray);
        }).ToList();
        return record =>
        {
            var key = record.Key;
            for (var r = 0; r < lookups.Count; r++)
            {
                record.SetRelated(r, lookups[r].MakeArray(lookups[r].ByKey[key]));
            }
        };
    }

    private static string? RuleOf(string where) =>
        where.StartsWith("rule '", StringComparison.Ordinal) ? where[6..^1] : null;

    private static string Describe(Exception exception)
    {
        var inner = exception is System.Reflection.TargetInvocationException { InnerException: { } e } ? e : exception;
        var message = inner is Scriban.Syntax.ScriptRuntimeException script ? script.OriginalMessage : inner.Message;
        return $"{inner.GetType().Name}: {message.TrimEnd('.')}";
    }

    /// <summary>The rule's severity after runner.yaml's severity_overrides; null when overridden to none.</summary>
    internal static Severity? EffectiveSeverity(WorkspaceDefinition workspace, PlaybookDefinition playbook, RuleDefinition rule)
    {
        var text = workspace.SeverityOverrides.TryGetValue($"{playbook.Id}/{rule.Id}", out var exact) ? exact
            : workspace.SeverityOverrides.TryGetValue($"{playbook.Id}/*", out var all) ? all : null;
        return text switch
        {
            null => rule.Severity,
            "none" => null,
            "info" => Severity.Info,
            "critical" => Severity.Critical,
            _ => Severity.Warning,
        };
    }

    /// <summary>One finding's values as its templates see them: the record's fields, its related lists, the lets and the segments.</summary>
    private static ScriptObject Globals(PlaybookDefinition playbook, IReadOnlyList<SourceDefinition> relatedSources, RawFinding raw, object?[] lets, FindingHistory past)
    {
        var zone = playbook.TimeZone;
        var fields = playbook.Source.Fields;
        var globals = new ScriptObject(fields.Count + playbook.Source.Related.Count + playbook.Lets.Count + playbook.Values.Count + playbook.Segments.Count);
        for (var i = 0; i < fields.Count; i++)
        {
            globals.SetValue(fields[i].Name, ForTemplate(raw.Record.GetField(i), zone), false);
        }

        var related = playbook.Source.Related;
        for (var i = 0; i < related.Count; i++)
        {
            var target = relatedSources[i];
            var items = new ScriptArray();
            foreach (var item in raw.Record.GetRelated(i))
            {
                var row = new ScriptObject();
                for (var f = 0; f < target.Fields.Count; f++)
                {
                    row.SetValue(target.Fields[f].Name, ForTemplate(item.GetField(f), zone), true);
                }

                items.Add(row);
            }

            globals.SetValue(related[i].Name, items, true);
        }

        for (var i = 0; i < playbook.Lets.Count; i++)
        {
            globals.SetValue(playbook.Lets[i].Name, ForTemplate(lets[i], zone), false);
        }

        for (var i = 0; i < playbook.Values.Count; i++)
        {
            globals.SetValue(playbook.Values[i].Name, ForTemplate(raw.Values[i], zone), false);
        }

        globals.SetValue("last_fired", ForTemplate(past.Fired(), zone), false);
        globals.SetValue("last_delivered", ForTemplate(past.Delivered(), zone), false);

        for (var i = 0; i < playbook.Segments.Count; i++)
        {
            globals.SetValue(playbook.Segments[i].Name, raw.Segments[i], false);
        }

        return globals;
    }

    /// <summary>What every finding of a rule shares, read-only: <c>rule</c>, <c>playbook</c>, <c>now</c> and the helpers.</summary>
    private static ScriptObject Shared(PlaybookDefinition playbook, RuleDefinition rule, Severity severity, DateTimeOffset now, TemplateHelpers helpers)
    {
        var ruleObject = new ScriptObject { ["id"] = rule.Id, ["title"] = rule.Title ?? rule.Id, ["severity"] = SeverityName(severity) };
        var playbookObject = new ScriptObject { ["id"] = playbook.Id, ["title"] = playbook.Title ?? playbook.Id };
        ruleObject.IsReadOnly = true;
        playbookObject.IsReadOnly = true;
        var shared = new ScriptObject();
        shared.SetValue("rule", ruleObject, true);
        shared.SetValue("playbook", playbookObject, true);
        shared.SetValue("now", TimeZoneInfo.ConvertTime(now, playbook.TimeZone).DateTime, true);
        helpers.AddTo(shared);
        shared.IsReadOnly = true;
        return shared;
    }

    /// <summary>A finding's own rule history for its customer, read from the store only when a template asks for it.</summary>
    private readonly record struct FindingHistory(IFiringHistory History, string Playbook, string Rule, string Key)
    {
        public DateTimeOffset? Fired() => History.LastFired(Playbook, Rule, Key);

        public DateTimeOffset? Delivered() => History.LastDelivered(Playbook, Rule, Key);
    }

    /// <summary>
    /// A finding's values read straight from its record, as <see cref="Globals"/> would hold them: templates that the
    /// interpreter need not render (most) never make the values object.
    /// </summary>
    private sealed class FindingValues(IReadOnlyDictionary<string, (int Kind, int Index)> names, PlaybookDefinition playbook, IReadOnlyList<SourceDefinition> relatedSources, RawFinding raw, object?[] lets, FindingHistory past)
        : IFindingValues
    {
        private const int Field = 0, Related = 1, Let = 2, Segment = 3, Value = 4, History = 5;

        /// <summary>Each name a finding's values object has, and where its value comes from (a later kind wins, as there).</summary>
        public static IReadOnlyDictionary<string, (int Kind, int Index)> Names(PlaybookDefinition playbook)
        {
            var names = new Dictionary<string, (int, int)>(StringComparer.Ordinal)
            {
                ["last_fired"] = (History, 0),
                ["last_delivered"] = (History, 1),
            };
            for (var i = 0; i < playbook.Source.Fields.Count; i++)
            {
                names[playbook.Source.Fields[i].Name] = (Field, i);
            }

            for (var i = 0; i < playbook.Source.Related.Count; i++)
            {
                names[playbook.Source.Related[i].Name] = (Related, i);
            }

            for (var i = 0; i < playbook.Lets.Count; i++)
            {
                names[playbook.Lets[i].Name] = (Let, i);
            }

            for (var i = 0; i < playbook.Values.Count; i++)
            {
                names[playbook.Values[i].Name] = (Value, i);
            }

            for (var i = 0; i < playbook.Segments.Count; i++)
            {
                names[playbook.Segments[i].Name] = (Segment, i);
            }

            return names;
        }

        private readonly TimeZoneInfo _zone = playbook.TimeZone;

        public object Layout => names;

        public ScriptObject Build() => Globals(playbook, relatedSources, raw, lets, past);

        public bool TryGet(string name, out object? value)
        {
            var slot = Slot(name);
            value = slot >= 0 ? At(slot) : null;
            return slot >= 0;
        }

        /// <summary>The kind in the high byte, the index below it; -1 for a name that is not a value, or a related list (not read here).</summary>
        public int Slot(string name) => names.TryGetValue(name, out var at) && at.Kind != Related ? (at.Kind << 24) | at.Index : -1;

        public object? At(int slot)
        {
            var index = slot & 0xFFFFFF;
            return (slot >> 24) switch
            {
                Field => ForTemplate(raw.Record.GetField(index), _zone),
                Let => ForTemplate(lets[index], _zone),
                Segment => raw.Segments[index],
                Value => ForTemplate(raw.Values[index], _zone),
                _ => ForTemplate(index == 0 ? past.Fired() : past.Delivered(), _zone),
            };
        }
    }

    /// <summary>Values as templates see them: datetimes in the playbook's zone, dates as midnight, lists as arrays.</summary>
    private static object? ForTemplate(object? value, TimeZoneInfo zone) => value switch
    {
        DateTime utc => TimeZoneInfo.ConvertTime(new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)), zone).DateTime,
        DateTimeOffset instant => TimeZoneInfo.ConvertTime(instant, zone).DateTime,
        DateOnly date => date.ToDateTime(TimeOnly.MinValue),
        string[] list => new ScriptArray(list),
        _ => value,
    };

    public static string SeverityName(Severity severity) => severity switch
    {
        Severity.Info => "info",
        Severity.Critical => "critical",
        _ => "warning",
    };

    internal static PlannedAction RenderAction(CompiledAction action, TemplateScope globals, PreflightChecks checks, string baseDirectory, WorkspaceDefinition workspace)
    {
        var fields = new PlannedActionField[action.Fields.Count];
        for (var f = 0; f < fields.Length; f++)
        {
            var field = action.Fields[f];
            try
            {
                var sink = SinkOf(action, field.Name);
                var rendered = RenderField(field, globals, sink, out var byParts);
                // A JSON body written from parts whose text makes any value JSON is not read again to tell.
                var knownJson = byParts && sink == TemplateSink.Json && TemplateParts.Of(field.Template!.Template)!.WritesJson;
                Preflight(action, field, rendered, checks, baseDirectory, knownJson);
                fields[f] = rendered;
            }
            catch (ActionFieldException)
            {
                throw;
            }
            catch (Exception ex) when (ex is InvalidOperationException or Scriban.Syntax.ScriptRuntimeException)
            {
                var message = ex is Scriban.Syntax.ScriptRuntimeException script ? script.OriginalMessage.TrimEnd('.') : ex.Message;
                throw new ActionFieldException(FieldLabel(action, field), field.Template?.Source.Location ?? action.Definition.Location, message, message, ex);
            }
        }

        if (action.Kind == ActionKind.Email && Text(fields, "from") is { } from
            && workspace.Channels.TryGetValue(Text(fields, "channel") ?? "default", out var channel)
            && channel.Settings.GetValueOrDefault("from") is { } channelFrom && !channelFrom.Contains("${", StringComparison.Ordinal)
            && EmailSender.Problem(from, channelFrom, channel.Settings.GetValueOrDefault("allow_from")) is { } senderProblem)
        {
            // Whom the channel may send as is the operator's: a value from the data cannot send as someone else.
            var field = action.Fields.First(f => f.Name == "from");
            throw new ActionFieldException(FieldLabel(action, field), field.Template?.Source.Location ?? action.Definition.Location,
                "renders a sender its channel may not send as (not its from domain nor one of its allow_from); nothing would be sent", senderProblem);
        }

        return new PlannedAction(action.Definition.Type, fields);
    }

    /// <summary>The rendered text of the field named <paramref name="name"/>; null when there is none.</summary>
    private static string? Text(PlannedActionField[] fields, string name)
    {
        foreach (var field in fields)
        {
            if (field.Name == name)
            {
                return field.Text;
            }
        }

        return null;
    }

    /// <summary>How a field is named in a preflight error: <c>action 2 (webhook) 'body'</c>.</summary>
    private static string FieldLabel(CompiledAction action, CompiledActionField field) => $"{action.Definition.Type} action '{field.Name}'";

    /// <summary>
    /// What run would certainly fail on, found while planning (docs/execution.md, "Preflight"): what the action's kind
    /// refuses in a rendered field (a webhook body that is not JSON, a URL that is not absolute http(s), a recipient
    /// that is not exactly the addresses the template writes, a subject with a control character), a header with a
    /// control character, a file path a file action may not write.
    /// </summary>
    private static void Preflight(CompiledAction action, CompiledActionField field, PlannedActionField rendered, PreflightChecks checks, string baseDirectory, bool knownJson)
    {
        var location = field.Template?.Source.Location ?? action.Definition.Location;
        var kind = action.Kind;
        if (rendered.Text is { } text && field.Template is { } template && checks.RenderedProblem(kind, field, text, template.Source.Value, knownJson) is { } problem)
        {
            throw new ActionFieldException(FieldLabel(action, field), location, problem.Problem, problem.Message);
        }

        if (field.Name == kind.HeadersField && rendered.Children is { } headers
            && headers.FirstOrDefault(h => h.Text?.Any(c => char.IsControl(c) && c != '\t') == true) is { } bad)
        {
            throw new ActionFieldException(FieldLabel(action, field), field.Children?.FirstOrDefault(c => c.Name == bad.Name)?.Template?.Source.Location ?? location, "has a header value with a control character (a line break from the data); nothing would be sent",
                $"header '{bad.Name}' contains a control character; nothing would be sent");
        }

        if (field.Name == kind.OutputPathField)
        {
            var written = rendered.Text ?? kind.DefaultOutputPath;
            if (checks.Paths.Problem(Path.Combine(baseDirectory, written), written) is { } pathProblem)
            {
                throw new ActionFieldException(FieldLabel(action, field), location, "renders a path a file action may not write (outside the workspace root, in .git, a YAML file or a file the workspace reads)", pathProblem);
            }
        }
    }

    /// <summary>Where an action field's text lands, which decides how values are escaped in it (docs/security.md).</summary>
    internal static TemplateSink SinkOf(CompiledAction action, string field) => action.Kind.Sink(field, action.IsHtml);

    /// <summary>Renders one action field; <paramref name="byParts"/> as <see cref="TemplateRenderer.Render(CompiledTemplate, TemplateScope, TemplateSink, out bool)"/> says of its template.</summary>
    private static PlannedActionField RenderField(CompiledActionField field, TemplateScope globals, TemplateSink sink, out bool byParts)
    {
        byParts = false;
        if (field.Children is { } children)
        {
            return new PlannedActionField(field.Name, null, null, [.. children.Select(c => RenderField(c, globals, TemplateSink.Text, out _))]);
        }

        if (field.Template is { } template)
        {
            return new PlannedActionField(field.Name, TemplateRenderer.Render(template, globals, sink, out byParts), null, null);
        }

        return new PlannedActionField(field.Name, null, field.Flag, null);
    }
}

/// <summary>What one scheduled tick evaluates: one playbook's rules that share a schedule.</summary>
internal sealed record PlanScope(string Playbook, IReadOnlySet<string> Rules);

/// <summary>
/// A rendered action field run would certainly fail on. <see cref="Problem"/> says what is wrong without the
/// customer's data, so that plan reports it once at the field's template with the keys counted.
/// </summary>
internal sealed class ActionFieldException(string field, SourceLocation location, string problem, string message, Exception? inner = null)
    : Exception($"{field} {message}", inner)
{
    public string Field { get; } = field;

    public SourceLocation Location { get; } = location;

    public string Problem { get; } = problem;
}
