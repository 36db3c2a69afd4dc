using System.Globalization;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Planning;

/// <summary>
/// The blast-radius guard: a playbook's <c>max_actions</c> and the command line's <c>--max-actions</c>
/// cap how many actions one evaluation may execute, so that a bad edit cannot email every customer.
/// <c>plan</c> warns (PB5005); <c>run</c> and the daemon execute nothing (PB5006).
/// </summary>
internal static class BlastRadius
{
    public static IReadOnlyList<Diagnostic> Check(Plan plan, WorkspaceDefinition workspace, int? maxActions, bool refuse)
    {
        var descriptor = refuse ? DiagnosticDescriptors.RunRefused : DiagnosticDescriptors.TooManyActions;
        var result = new List<Diagnostic>();
        var pending = PendingActions.Of(plan).ByPlaybook;
        foreach (var playbook in workspace.Playbooks)
        {
            var count = pending.GetValueOrDefault(playbook.Id);
            if (playbook.MaxActions is { } max && count > max.Limit)
            {
                result.Add(Diagnostic.Create(descriptor, max.Location, $"Playbook '{playbook.Id}'", count, $"its max_actions of {max.Limit.ToString(CultureInfo.InvariantCulture)}"));
            }
        }

        if (maxActions is { } limit && plan.Summary.Actions > limit)
        {
            result.Add(Diagnostic.Create(descriptor, SourceLocation.None, "The plan", plan.Summary.Actions, $"--max-actions {limit.ToString(CultureInfo.InvariantCulture)}"));
        }

        return result;
    }
}
