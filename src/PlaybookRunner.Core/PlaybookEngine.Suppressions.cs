using System.Globalization;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Loading;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core;

/// <summary>What <c>playbook suppress</c> or <c>unsuppress</c> changed in suppressions.yaml.</summary>
/// <param name="File">The file edited; null when nothing was written.</param>
/// <param name="Added">The entry added.</param>
/// <param name="Removed">The entries taken out (by <c>unsuppress</c>, or replaced by <c>suppress</c>).</param>
/// <param name="Diagnostics">Why nothing was written, when it was not.</param>
public sealed record SuppressionChange(string? File, SuppressionDefinition? Added, IReadOnlyList<SuppressionDefinition> Removed, IReadOnlyList<Diagnostic> Diagnostics)
{
    /// <summary>True when nothing is an error.</summary>
    public bool Success => !Diagnostics.Any(d => d.IsError);
}

public sealed partial class PlaybookEngine
{
    /// <summary>The longest justification a suppression may have: a sentence or two for the plan and the review.</summary>
    public const int MaxJustification = 500;

    /// <summary>
    /// <c>playbook suppress</c>: adds a suppression of <paramref name="rule"/> (playbook/rule, playbook/*, or a rule id only
    /// one playbook has) for the customer <paramref name="key"/> (null: every customer) to the workspace's suppressions.yaml,
    /// replacing one for the same rule and key. The file is edited as text, every other line kept, for review like any change.
    /// </summary>
    public Task<SuppressionChange> SuppressAsync(IReadOnlyList<string> paths, string rule, string? key, DateOnly? until, string justification, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var diagnostics = new DiagnosticBag();
        if (Target(paths, rule, key, diagnostics) is not var (workspace, target, playbook))
        {
            return Task.FromResult(new SuppressionChange(null, null, [], diagnostics.Sorted()));
        }

        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(options.Time.GetUtcNow(), playbook.TimeZone).DateTime);
        if (until is { } last && last < today)
        {
            Refuse(diagnostics, $"--until {last.ToString(DateFormats.Date, CultureInfo.InvariantCulture)} is in the past (today is {today.ToString(DateFormats.Date, CultureInfo.InvariantCulture)} in the playbook's time zone)");
        }

        var reason = justification.Trim();
        if (reason.Length == 0 || reason.Length > MaxJustification || reason.Any(c => char.IsControl(c) || c is '\u2028' or '\u2029'))
        {
            Refuse(diagnostics, $"--reason must be one line of 1 to {MaxJustification.ToString(CultureInfo.InvariantCulture)} characters: plan shows it beside the finding");
        }

        if (diagnostics.HasErrors)
        {
            return Task.FromResult(new SuppressionChange(null, null, [], diagnostics.Sorted()));
        }

        var added = new SuppressionDefinition(target, key, until, reason, SourceLocation.None);
        var replaced = workspace.Suppressions.Where(s => Same(s, target, key)).ToList();
        return Task.FromResult(Write(workspace, replaced, added, diagnostics));
    }

    /// <summary><c>playbook unsuppress</c>: removes the suppressions of <paramref name="rule"/> for <paramref name="key"/> (null: the ones for every customer).</summary>
    public Task<SuppressionChange> UnsuppressAsync(IReadOnlyList<string> paths, string rule, string? key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var diagnostics = new DiagnosticBag();
        if (Target(paths, rule, key, diagnostics, mustExist: false) is not var (workspace, target, _))
        {
            return Task.FromResult(new SuppressionChange(null, null, [], diagnostics.Sorted()));
        }

        var removed = workspace.Suppressions.Where(s => Same(s, target, key)).ToList();
        if (removed.Count == 0)
        {
            var others = workspace.Suppressions.Where(s => s.Rule == target).Select(s => s.Key is null ? "every customer" : $"key '{SafeText.OneLine(s.Key)}'").ToList();
            Refuse(diagnostics, $"no suppression of '{target}' for {(key is null ? "every customer" : $"key '{SafeText.OneLine(key)}'")}"
                + (others.Count > 0 ? $"; it has one for {string.Join(", ", others)}" : ""));
            return Task.FromResult(new SuppressionChange(null, null, [], diagnostics.Sorted()));
        }

        return Task.FromResult(Write(workspace, removed, null, diagnostics));
    }

    private static bool Same(SuppressionDefinition suppression, RuleRef rule, string? key) => suppression.Rule == rule && suppression.Key == key;

    private static void Refuse(DiagnosticBag diagnostics, string why) => diagnostics.Add(DiagnosticDescriptors.SuppressionNotChanged, SourceLocation.None, why);

    /// <summary>The workspace (whose suppressions.yaml must load cleanly) and the rule named, resolved; null with a diagnostic.</summary>
    private (WorkspaceDefinition Workspace, RuleRef Rule, PlaybookDefinition Playbook)? Target(IReadOnlyList<string> paths, string rule, string? key, DiagnosticBag diagnostics, bool mustExist = true)
    {
        var workspace = WorkspaceLoader.Load(paths, Host, diagnostics);
        if (workspace is null || diagnostics.HasErrors)
        {
            Refuse(diagnostics, "the workspace has errors (above); fix them first");
            return null;
        }

        if (key is { } k && (k.Length == 0 || k.Any(char.IsControl)))
        {
            Refuse(diagnostics, "KEY must be a customer key: not empty, no control characters");
            return null;
        }

        var text = rule.Contains('/', StringComparison.Ordinal) ? rule
            : workspace.Playbooks.Where(p => p.Rules.Any(r => r.Id == rule)).Select(p => $"{p.Id}/{rule}").ToList() is [var only] ? only : rule;
        if (!RuleRef.TryParse(text, out var target))
        {
            Refuse(diagnostics, $"'{SafeText.OneLine(rule)}' is not playbook/rule, playbook/*, a pattern such as */* or the id of a rule only one playbook has");
            return null;
        }

        var playbook = target.MatchingPlaybooks(workspace.Playbooks).FirstOrDefault();
        if (mustExist && playbook is null)
        {
            Refuse(diagnostics, $"'{target}' is not a rule of any playbook here"
                + Yaml.YamlSchemaValidator.Suggest(target.ToString(), workspace.Playbooks.SelectMany(p => p.Rules.Select(r => $"{p.Id}/{r.Id}"))));
            return null;
        }

        return (workspace, target, playbook ?? workspace.Playbooks.FirstOrDefault() ?? throw new InvalidOperationException("a workspace without playbooks loaded"));
    }

    /// <summary>Writes the edited file (atomically), then loads it again to check it says what was meant; restores it otherwise.</summary>
    private SuppressionChange Write(WorkspaceDefinition workspace, IReadOnlyList<SuppressionDefinition> removed, SuppressionDefinition? added, DiagnosticBag diagnostics)
    {
        var path = Path.Combine(workspace.Root, SuppressionsFile.FileName);
        try
        {
            if (new FileInfo(path) is { Exists: true, LinkTarget: not null })
            {
                Refuse(diagnostics, $"{SuppressionsFile.FileName} is a symbolic link; it is not read, and it is not written through");
                return new SuppressionChange(null, null, [], diagnostics.Sorted());
            }

            var before = File.Exists(path) ? File.ReadAllText(path) : null;
            var after = SuppressionsFile.Edit(before, [.. removed.Select(s => s.Location.Line)], added, workspace.Suppressions.Count - removed.Count);
            Replace(path, after);
            var check = new DiagnosticBag();
            var reloaded = WorkspaceLoader.Load([workspace.Root], Host, check, requirePlaybooks: false)?.Suppressions ?? [];
            var expected = workspace.Suppressions.Except(removed).Select(Canonical).Concat(added is null ? [] : [Canonical(added)]).Order(StringComparer.Ordinal);
            if (check.HasErrors || !reloaded.Select(Canonical).Order(StringComparer.Ordinal).SequenceEqual(expected))
            {
                if (before is null)
                {
                    File.Delete(path);
                }
                else
                {
                    Replace(path, before);
                }

                Refuse(diagnostics, $"the edited file did not load as the same suppressions plus this change, so it was put back as it was{(check.Items.FirstOrDefault(d => d.IsError) is { } first ? $" ({first.Message})" : "")}");
                return new SuppressionChange(null, null, [], diagnostics.Sorted());
            }

            return new SuppressionChange(path, added, removed, diagnostics.Sorted());
        }
        catch (SuppressionsFileException ex)
        {
            Refuse(diagnostics, $"{SuppressionsFile.FileName}: {ex.Message}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            diagnostics.Add(DiagnosticDescriptors.FileWrite, SourceLocation.None, path, ex.Message.TrimEnd('.'));
        }

        return new SuppressionChange(null, null, [], diagnostics.Sorted());
    }

    private static string Canonical(SuppressionDefinition s) =>
        $"{s.Rule}\n{s.Key}\n{s.Until?.ToString(DateFormats.Date, CultureInfo.InvariantCulture)}\n{s.Justification}";

    /// <summary>Replaces a file's content through a temporary file beside it: a crash leaves the old file or the new one, never half of one.</summary>
    private static void Replace(string path, string content)
    {
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            File.WriteAllText(temporary, content);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
