using PlaybookRunner.Core.Compilation;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Evaluation;
using PlaybookRunner.Core.Model;
using Scriban.Runtime;

namespace PlaybookRunner.Core.Planning;

/// <summary>
/// One action of a digest (runner.yaml <c>digests:</c>): the group (what its <c>group_by</c> rendered, an owner's address),
/// the findings listed in it, in the plan's order, and its action rendered over them. Its severity is the highest of theirs.
/// </summary>
public sealed record PlannedDigest(string Name, string Group, Severity Severity, IReadOnlyList<FindingId> Findings, PlannedAction Action);

/// <summary>
/// Collects the findings that join digests as the planner renders them (each as the object a digest's templates list), and
/// renders one action per digest and group once the plan's findings are decided. Findings a throttle defers do not join.
/// </summary>
internal sealed class DigestCollector(CompiledWorkspace workspace, DateTimeOffset asOf)
{
    private readonly SortedDictionary<(string Name, string Group), List<(FindingId Id, int RuleIndex, Severity Severity, ScriptObject Entry)>> _groups =
        new(Comparer<(string Name, string Group)>.Create((a, b) => string.CompareOrdinal(a.Name, b.Name) is var c and not 0 ? c : string.CompareOrdinal(a.Group, b.Group)));

    public bool IsEmpty => _groups.Count == 0;

    /// <summary>A finding that runs joins a digest's group, as the object the digest's templates see in <c>findings</c>.</summary>
    public void Add(string digest, string group, PlannedFinding finding, string? title, IEnumerable<(string Name, object? Value)> fields, IEnumerable<(string Name, object? Value)> values)
    {
        var entry = new ScriptObject
        {
            ["playbook"] = finding.Playbook,
            ["rule"] = finding.Rule,
            ["title"] = title ?? finding.Rule,
            ["key"] = finding.Key,
            ["severity"] = Planner.SeverityName(finding.Severity),
            ["message"] = finding.Message,
        };
        var fieldObject = new ScriptObject();
        foreach (var (name, value) in fields)
        {
            fieldObject.SetValue(name, value, true);
        }

        var valueObject = new ScriptObject();
        foreach (var (name, value) in values)
        {
            valueObject.SetValue(name, value, true);
        }

        entry.SetValue("fields", fieldObject, true);
        entry.SetValue("values", valueObject, true);
        entry.IsReadOnly = true;
        if (!_groups.TryGetValue((digest, group), out var list))
        {
            _groups[(digest, group)] = list = [];
        }

        list.Add((new FindingId(finding.Playbook, finding.Rule, finding.Key), finding.RuleIndex, finding.Severity, entry));
    }

    /// <summary>
    /// One action per digest and group (in name, then group order), over its findings that were not deferred
    /// (<paramref name="deferred"/>); a group none of whose findings is left renders nothing. A template that fails for a group
    /// is an error of the plan (PB5002, the group as its key), and that group's digest is left out.
    /// </summary>
    public IReadOnlyList<PlannedDigest> Render(IReadOnlySet<FindingId> deferred, List<Diagnostic> errors)
    {
        var result = new List<PlannedDigest>();
        var zone = TimeZoneInfo.FindSystemTimeZoneById(workspace.Definition.DefaultTimeZone);
        var helpers = new TemplateHelpers(asOf, zone) { Calendar = new Runtime.BusinessCalendar(workspace.Definition.Calendar.WorkingDays, workspace.Definition.Calendar.Holidays) };
        var shared = new ScriptObject();
        shared.SetValue("now", TimeZoneInfo.ConvertTime(asOf, zone).DateTime, true);
        helpers.AddTo(shared);
        shared.IsReadOnly = true;
        var checks = new PreflightChecks(workspace.Definition);
        var baseDirectory = workspace.Definition.RunnerDirectory;
        foreach (var ((name, group), members) in _groups)
        {
            var listed = members.Where(m => !deferred.Contains(m.Id))
                .OrderBy(m => m.Id.Playbook, StringComparer.Ordinal).ThenBy(m => m.RuleIndex).ThenBy(m => m.Id.Key, StringComparer.Ordinal).ToList();
            if (listed.Count == 0)
            {
                continue;
            }

            var findings = new ScriptArray();
            foreach (var member in listed)
            {
                findings.Add(member.Entry);
            }

            var globals = new ScriptObject();
            globals.SetValue("group", group, true);
            globals.SetValue("findings", findings, true);
            try
            {
                var action = Planner.RenderAction(workspace.Digests[name], new TemplateScope(globals, shared) { Helpers = helpers }, checks, baseDirectory, workspace.Definition);
                result.Add(new PlannedDigest(name, group, listed.Max(m => m.Severity), [.. listed.Select(m => m.Id)], action));
            }
            catch (ActionFieldException ex)
            {
                errors.Add(Diagnostic.About(DiagnosticDescriptors.TemplateFailed, "digests", name, group, $"digest '{name}'", group, ex.Message) with { Location = ex.Location });
            }
            catch (Exception ex) when (ex is not (OutOfMemoryException or OperationCanceledException))
            {
                errors.Add(Diagnostic.About(DiagnosticDescriptors.TemplateFailed, "digests", name, group, $"digest '{name}'", group, ex.Message.TrimEnd('.')));
            }
        }

        return result;
    }
}
