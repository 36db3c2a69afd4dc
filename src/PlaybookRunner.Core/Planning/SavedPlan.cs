using System.Globalization;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Planning;

/// <summary>Which findings a run executes: <c>run --rule R --key K</c> (each repeatable; empty means all).</summary>
public sealed record RunScope(IReadOnlyList<string> Rules, IReadOnlyList<string> Keys)
{
    /// <summary>True when nothing is narrowed.</summary>
    public bool IsAll => Rules.Count == 0 && Keys.Count == 0;

    /// <summary>True when the finding is in scope: its rule (<c>playbook/rule</c> or the rule id) and its key are named, or not narrowed.</summary>
    public bool Covers(PlannedFinding finding) =>
        (Rules.Count == 0 || Rules.Any(r => r == $"{finding.Playbook}/{finding.Rule}" || r == finding.Rule))
        && (Keys.Count == 0 || Keys.Contains(finding.Key, StringComparer.Ordinal));

    /// <summary>The plan with only the findings in scope, its summary counted again.</summary>
    public Plan Apply(Plan plan) => IsAll ? plan : SavedPlan.WithFindings(plan with { Digests = [] }, [.. plan.Findings.Where(Covers)]) with
    {
        // A narrowed run sends no digest: a digest lists findings the run was not asked for.
        // A run narrowed to keys did not see the other customers: it marks no evaluation (their holds go on).
        Tracked = Keys.Count > 0 ? [] : [.. plan.Tracked.Where(t => Rules.Any(r => r == t || t.EndsWith("/" + r, StringComparison.Ordinal)))],
    };
}

/// <summary>
/// A plan written by <c>plan --format json --out FILE</c>, read back for <c>run --plan FILE</c> (docs/execution.md,
/// "Saved plans"): the rendered actions are executed as they were reviewed, once the workspace is shown to be the
/// one the plan was made from; cooldowns and suppressions are checked again at execution time.
/// </summary>
internal static class SavedPlan
{
    /// <summary>Reads a saved plan (its findings and provenance); null with PB1036 at the place when the file is not one.</summary>
    public static (Plan Plan, Provenance Provenance)? Read(string path, DiagnosticBag diagnostics)
    {
        if (PlanDocument.Load(path, DiagnosticDescriptors.BadSavedPlan, diagnostics) is not { } plan)
        {
            return null;
        }

        if (plan.Provenance is not { } origin)
        {
            diagnostics.Add(DiagnosticDescriptors.BadSavedPlan, SourceLocation.At(path, 1, 1), "it has no provenance (engine, workspace digest), so what it was made from cannot be checked; plan again with this version");
            return null;
        }

        if (origin.AsOf != plan.AsOf)
        {
            diagnostics.Add(DiagnosticDescriptors.BadSavedPlan, SourceLocation.At(path, 1, 1), "its asOf is not the instant its provenance records; the file was changed after plan wrote it");
            return null;
        }

        // What runs is the reviewed findings; the errors and counts of the run that wrote the file are not carried over.
        return (WithFindings(new Plan(plan.AsOf, [], [], [], new PlanSummary(0, 0, 0, 0, 0)) { Tracked = plan.Tracked, Digests = plan.Digests }, plan.Findings), origin);
    }

    /// <summary>
    /// True when <paramref name="workspace"/> is the one the plan was made from (same engine, same digest of
    /// every workspace file); otherwise PB1037 naming what changed. A file-based source that changed since is
    /// a warning (PB1038): the reviewed actions are what runs, whatever the data says now.
    /// </summary>
    public static bool Matches(Provenance saved, WorkspaceDefinition workspace, string planFile, DiagnosticBag diagnostics)
    {
        var location = SourceLocation.At(planFile, 1, 1);
        if (saved.Engine != Provenance.EngineVersion)
        {
            diagnostics.Add(DiagnosticDescriptors.StalePlan, location, $"it was made by PlaybookRunner {saved.Engine} and this is {Provenance.EngineVersion}");
            return false;
        }

        var current = Provenance.Of(workspace, saved.AsOf);
        if (current.WorkspaceDigest != saved.WorkspaceDigest || Provenance.WorkspaceDigestOf(saved.Files) != saved.WorkspaceDigest)
        {
            var changed = current.Files.Keys.Union(saved.Files.Keys).Order(StringComparer.Ordinal)
                .Select(f => !saved.Files.ContainsKey(f) ? $"{f} (added)" : !current.Files.ContainsKey(f) ? $"{f} (removed)" : current.Files[f] != saved.Files[f] ? $"{f} (changed)" : null)
                .OfType<string>().ToList();
            var what = changed.Count == 0 ? "its digest does not match its files" : string.Join(", ", changed.Take(5)) + (changed.Count > 5 ? $" and {changed.Count - 5} more" : "");
            diagnostics.Add(DiagnosticDescriptors.StalePlan, location, $"the workspace no longer matches it: {what}");
            return false;
        }

        foreach (var (name, digest) in saved.Sources)
        {
            if (current.Sources.GetValueOrDefault(name) != digest)
            {
                diagnostics.Add(DiagnosticDescriptors.PlanDataChanged, location, name);
            }
        }

        return true;
    }

    /// <summary>True when every source the plan read is a file whose digest the plan recorded and still has: the plan can be made again.</summary>
    public static bool DataUnchanged(Provenance saved, WorkspaceDefinition workspace)
    {
        var sources = workspace.SourcesToRead();
        var current = Provenance.Of(workspace, saved.AsOf).Sources;
        return sources.All(s => saved.Sources.TryGetValue(s.Name, out var digest) && current.GetValueOrDefault(s.Name) == digest);
    }

    /// <summary>
    /// True when each finding of the saved plan is one the workspace renders now from the same data, with the same
    /// message and actions; otherwise PB1037 naming the first that differ (the file was edited after plan wrote it).
    /// </summary>
    public static bool Renders(Plan saved, Plan fresh, string planFile, DiagnosticBag diagnostics)
    {
        var rendered = fresh.Findings.ToDictionary(f => (f.Playbook, f.Rule, f.Key), f => Canonical(f));
        var differ = saved.Findings.Where(f => !rendered.TryGetValue((f.Playbook, f.Rule, f.Key), out var now) || now != Canonical(f))
            .Select(f => $"{f.Playbook}/{f.Rule} {SafeText.OneLine(f.Key)}").ToList();
        var digests = fresh.Digests.ToDictionary(d => (d.Name, d.Group), Canonical);
        differ.AddRange(saved.Digests.Where(d => !digests.TryGetValue((d.Name, d.Group), out var now) || now != Canonical(d))
            .Select(d => $"digest {d.Name} {SafeText.OneLine(d.Group)}"));
        if (differ.Count == 0)
        {
            return true;
        }

        diagnostics.Add(DiagnosticDescriptors.StalePlan, SourceLocation.At(planFile, 1, 1),
            $"its findings are not what the workspace renders from the same data ({string.Join(", ", differ.Take(5))}{(differ.Count > 5 ? $" and {differ.Count - 5} more" : "")}); it was changed after plan wrote it");
        return false;
    }

    /// <summary>
    /// When the data cannot be read again as it was (a database, or a file that changed): each action must still
    /// fit its rule's templates (the type at its place, a literal channel, the scheme, host and port a url template
    /// writes, the header names); otherwise PB1037.
    /// </summary>
    public static bool FitsTemplates(Plan saved, WorkspaceDefinition workspace, string planFile, DiagnosticBag diagnostics)
    {
        foreach (var digest in saved.Digests)
        {
            if (Misfit(digest.Action, workspace.Digests.TryGetValue(digest.Name, out var definition) ? definition.Action : null) is { } why)
            {
                diagnostics.Add(DiagnosticDescriptors.StalePlan, SourceLocation.At(planFile, 1, 1),
                    $"the action of digest {digest.Name} {SafeText.OneLine(digest.Group)} does not fit its template ({why}); it was changed after plan wrote it");
                return false;
            }
        }

        foreach (var finding in saved.Findings)
        {
            var rule = workspace.Playbooks.FirstOrDefault(p => p.Id == finding.Playbook)?.Rules.FirstOrDefault(r => r.Id == finding.Rule);
            if (rule is null)
            {
                continue; // dropped by Recheck: a rule the workspace does not have runs nothing
            }

            var templates = finding.IsResolution ? rule.OnResolve?.Actions ?? [] : rule.Actions;
            for (var i = 0; i < finding.Actions.Count; i++)
            {
                if (Misfit(finding.Actions[i], i < templates.Count ? templates[i] : null) is { } why)
                {
                    diagnostics.Add(DiagnosticDescriptors.StalePlan, SourceLocation.At(planFile, 1, 1),
                        $"action {i + 1} of {finding.Playbook}/{finding.Rule} {SafeText.OneLine(finding.Key)} does not fit its template ({why}); it was changed after plan wrote it");
                    return false;
                }
            }
        }

        return true;
    }

    private static string? Misfit(PlannedAction action, ActionDefinition? template)
    {
        if (template is null || template.Type != action.Type)
        {
            return "its type";
        }

        string? Text(string name) => action.Fields.FirstOrDefault(f => f.Name == name)?.Text;
        var names = action.Fields.Select(f => f.Name).Order(StringComparer.Ordinal);
        if (!names.SequenceEqual(template.Fields.Select(f => f.Name).Order(StringComparer.Ordinal), StringComparer.Ordinal))
        {
            return "its fields";
        }

        var headers = action.Fields.FirstOrDefault(f => f.Name == "headers")?.Children?.Select(h => h.Name).Order(StringComparer.OrdinalIgnoreCase) ?? Enumerable.Empty<string>();
        var written = template.Fields.FirstOrDefault(f => f.Name == "headers")?.Children?.Select(h => h.Name).Order(StringComparer.OrdinalIgnoreCase) ?? Enumerable.Empty<string>();
        if (!headers.SequenceEqual(written, StringComparer.OrdinalIgnoreCase))
        {
            return "its headers";
        }

        // A field the template writes without a value renders as itself: it must be exactly that.
        foreach (var field in template.Fields.Where(f => f.Template is { } t && !t.Value.Contains("{{", StringComparison.Ordinal)))
        {
            if (Text(field.Name) != field.Template!.Value)
            {
                return $"its '{field.Name}'";
            }
        }

        if (ActionKind.Of(template.Type).UrlField is { } urlField && template.Field(urlField)?.Template is { } url && Text(urlField) is { } rendered
            && !SameOrigin(Authority(url.Value), rendered))
        {
            return "its url's scheme, host or port";
        }

        return null;
    }

    /// <summary>True when <paramref name="rendered"/> has the scheme, host and port of <paramref name="authority"/>, and no user info.</summary>
    private static bool SameOrigin(string authority, string rendered) =>
        Uri.TryCreate(authority, UriKind.Absolute, out var fixedUri) && Uri.TryCreate(rendered, UriKind.Absolute, out var uri)
        && uri.UserInfo.Length == 0 && uri.Scheme == fixedUri.Scheme && uri.IdnHost == fixedUri.IdnHost && uri.Port == fixedUri.Port
        && rendered.StartsWith(authority, StringComparison.Ordinal);

    /// <summary>The scheme and authority a url template writes itself, with the character that ends them.</summary>
    private static string Authority(string template)
    {
        var literal = template.IndexOf("{{", StringComparison.Ordinal) is var i and >= 0 ? template[..i] : template;
        var scheme = literal.IndexOf("://", StringComparison.Ordinal);
        var end = scheme < 0 ? -1 : literal.IndexOfAny(['/', '?', '#'], scheme + 3);
        return end < 0 ? literal : literal[..(end + 1)];
    }

    /// <summary>A digest's findings and rendered action as one comparable text.</summary>
    private static string Canonical(PlannedDigest digest) =>
        string.Join('\u0002', digest.Findings.Select(f => $"{f.Playbook}\0{f.Rule}\0{f.Key}")) + '\u0003'
        + Canonical(new PlannedFinding("", "", -1, "", digest.Severity, null, false, [digest.Action]));

    /// <summary>A finding's message and rendered actions as one comparable text.</summary>
    private static string Canonical(PlannedFinding finding)
    {
        var text = new System.Text.StringBuilder().Append(finding.Message).Append('\0');
        foreach (var action in finding.Actions)
        {
            text.Append(action.Type).Append('\0');
            foreach (var field in action.Fields)
            {
                Append(text, field);
            }

            text.Append('\u0001');
        }

        return text.ToString();

        static void Append(System.Text.StringBuilder text, PlannedActionField field)
        {
            text.Append(field.Name).Append('=').Append(field.Text).Append('|').Append(field.Flag?.ToString() ?? "").Append('{');
            foreach (var child in field.Children ?? [])
            {
                Append(text, child);
            }

            text.Append('}').Append('\0');
        }
    }

    /// <summary>
    /// The saved plan as it stands now: each finding bound to its playbook (rule index, folder for file actions),
    /// and held back when the rule fired for the customer since the plan was made and its cooldown runs, or
    /// suppressed when a suppression now covers it. Findings of rules the workspace no longer has are dropped.
    /// </summary>
    public static Plan Recheck(Plan plan, WorkspaceDefinition workspace, IFiringHistory store, DateTimeOffset now)
    {
        var findings = new List<PlannedFinding>();
        foreach (var (finding, playbook, rule) in Bound(plan, workspace))
        {
            var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, playbook.TimeZone).DateTime);
            var suppression = finding.Suppressed ? null : workspace.Suppressions.FirstOrDefault(s => s.Covers(playbook.Id, rule.Id, finding.Key, today));
            var heldBack = finding.HeldBackUntil;
            if (heldBack is null && rule.Cooldown is { } cooldown && store.LastFired(playbook.Id, rule.Id, finding.Key) is { } last && last != plan.AsOf
                && cooldown.AddTo(last, playbook.TimeZone) is var until && until > plan.AsOf)
            {
                heldBack = until;
            }

            findings.Add(finding with
            {
                Suppressed = finding.Suppressed || suppression is not null,
                Justification = finding.Justification ?? suppression?.Justification,
                HeldBackUntil = heldBack,
            });
        }

        // Only rules the workspace follows are marked evaluated, whatever the file says.
        return WithFindings(plan, findings) with
        {
            DigestDirectory = workspace.RunnerDirectory,
            Tracked = [.. plan.Tracked.Where(t => workspace.Playbooks.Any(p => p.Rules.Any(r => r.IsTracked && $"{p.Id}/{r.Id}" == t)))],
        };
    }

    /// <summary>
    /// Binds one finding read from a plan document to <paramref name="workspace"/>: its rule index and its playbook's folder;
    /// null for a playbook or rule the workspace does not have. For a plan read a finding at a time (the daemon's worker's answer).
    /// </summary>
    public static Func<PlannedFinding, PlannedFinding?> Binder(WorkspaceDefinition workspace)
    {
        var rules = Rules(workspace);
        return finding => rules.TryGetValue((finding.Playbook, finding.Rule), out var rule)
            ? finding with { RuleIndex = rule.Index, BaseDirectory = rule.Folder }
            : null;
    }

    private static Dictionary<(string Playbook, string Rule), (int Index, string Folder, PlaybookDefinition Playbook)> Rules(WorkspaceDefinition workspace)
    {
        var rules = new Dictionary<(string, string), (int, string, PlaybookDefinition)>();
        foreach (var playbook in workspace.Playbooks)
        {
            for (var index = 0; index < playbook.Rules.Count; index++)
            {
                rules.TryAdd((playbook.Id, playbook.Rules[index].Id), (index, Path.GetDirectoryName(playbook.Path)!, playbook));
            }
        }

        return rules;
    }

    private static IEnumerable<(PlannedFinding Finding, PlaybookDefinition Playbook, RuleDefinition Rule)> Bound(Plan plan, WorkspaceDefinition workspace)
    {
        var rules = Rules(workspace);
        foreach (var finding in plan.Findings)
        {
            if (rules.TryGetValue((finding.Playbook, finding.Rule), out var rule))
            {
                yield return (finding with { RuleIndex = rule.Index, BaseDirectory = rule.Folder }, rule.Playbook, rule.Playbook.Rules[rule.Index]);
            }
        }
    }

    /// <summary>The plan with <paramref name="findings"/> and a summary counted from them.</summary>
    public static Plan WithFindings(Plan plan, IReadOnlyList<PlannedFinding> findings) => plan with
    {
        Findings = findings,
        Pending = null,
        Summary = Count(plan.Summary.Records, findings, plan.Errors.Count, plan.Digests.Count),
        Tracked = plan.Tracked,
    };

    /// <summary>The summary of <paramref name="findings"/>: resolutions are counted apart from findings, their actions with the others.</summary>
    public static PlanSummary Count(int records, IReadOnlyList<PlannedFinding> findings, int errors, int digests = 0)
    {
        var resolved = findings.Count(f => f.IsResolution);
        return new PlanSummary(records, findings.Count - resolved, findings.Where(f => f.IsPending).Sum(f => f.Actions.Count) + digests, findings.Count(f => f.Suppressed), errors)
        {
            Digests = digests,
            HeldBack = findings.Count(f => f.State == FindingState.HeldBack),
            Inhibited = findings.Count(f => f.State == FindingState.Inhibited),
            Waiting = findings.Count(f => f.State == FindingState.Waiting),
            Resolved = resolved,
            Deferred = findings.Count(f => f.State == FindingState.Deferred),
        };
    }
}
