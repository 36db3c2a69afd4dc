using PlaybookRunner.Core.Compilation;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Evaluation;
using PlaybookRunner.Core.Loading;
using PlaybookRunner.Core.Planning;
using PlaybookRunner.Core.Plugins;
using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Core;

/// <summary>The outcome of <see cref="PlaybookEngine.Validate"/>.</summary>
public sealed record ValidationResult(IReadOnlyList<Diagnostic> Diagnostics, int Playbooks, int Rules)
{
    /// <summary>True when nothing is an error.</summary>
    public bool Success => !Diagnostics.Any(d => d.IsError);
}

/// <summary>The outcome of <see cref="PlaybookEngine.Plan"/>: a plan, or diagnostics saying why there is none.</summary>
public sealed record PlanResult(Plan? Plan, IReadOnlyList<Diagnostic> Diagnostics)
{
    /// <summary>True when a plan was made and nothing is an error.</summary>
    public bool Success => Plan is not null && !Diagnostics.Any(d => d.IsError);
}

/// <summary>The engine's small public facade: validate and plan a workspace. Never throws on bad input.</summary>
public static class PlaybookEngine
{
    static PlaybookEngine()
    {
        // Regular expressions in conditions cannot run away: every match has a default timeout.
        AppContext.SetData("REGEX_DEFAULT_MATCH_TIMEOUT", TimeSpan.FromMilliseconds(250));
    }

    /// <summary>Parses, schema-checks and compiles; reads no data.</summary>
    public static ValidationResult Validate(IReadOnlyList<string> paths)
    {
        var diagnostics = new DiagnosticBag();
        var workspace = WorkspaceLoader.Load(paths, diagnostics);
        if (workspace is not null && workspace.Playbooks.Count > 0)
        {
            SourceBinder.Check(workspace, PluginCatalog.Load(workspace.PluginFolders), diagnostics);
            if (!diagnostics.HasErrors)
            {
                // Conditions are typed by the sources' records: compile once the sources bind.
                PlaybookCompiler.Compile(workspace, diagnostics, load: false);
            }
        }

        return new ValidationResult(diagnostics.Sorted(), workspace?.Playbooks.Count ?? 0, workspace?.Playbooks.Sum(p => p.Rules.Count) ?? 0);
    }

    /// <summary>
    /// Describes a source named in runner.yaml: its declared fields and, for csv and jsonl, fields
    /// inferred from a sample of the data. Null text with diagnostics when the source is not found.
    /// </summary>
    public static (string? Text, IReadOnlyList<Diagnostic> Diagnostics) DescribeSource(IReadOnlyList<string> paths, string name)
    {
        var diagnostics = new DiagnosticBag();
        var workspace = WorkspaceLoader.Load(paths, diagnostics, requirePlaybooks: false);
        if (workspace is null || !workspace.Sources.TryGetValue(name, out var source))
        {
            if (workspace is not null)
            {
                var known = string.Join(", ", workspace.Sources.Keys.Order(StringComparer.Ordinal));
                diagnostics.Add(DiagnosticDescriptors.UnknownSource, workspace.RunnerPath is null ? SourceLocation.None : SourceLocation.At(workspace.RunnerPath, 1, 1),
                    name, workspace.RunnerPath is null ? " (no runner.yaml)" : $" in runner.yaml (known: {known})");
            }

            return (null, diagnostics.Sorted());
        }

        return (SourceDescriber.Describe(source), diagnostics.Sorted());
    }

    /// <summary>Validates, reads the data and evaluates as of <paramref name="asOf"/>; no side effects.</summary>
    public static PlanResult Plan(IReadOnlyList<string> paths, DateTimeOffset asOf, CancellationToken cancellationToken = default) =>
        PlanAsync(paths, asOf, cancellationToken).GetAwaiter().GetResult();

    /// <summary>Validates, reads the data and evaluates as of <paramref name="asOf"/>; no side effects.</summary>
    public static async Task<PlanResult> PlanAsync(IReadOnlyList<string> paths, DateTimeOffset asOf, CancellationToken cancellationToken = default)
    {
        var diagnostics = new DiagnosticBag();
        var workspace = WorkspaceLoader.Load(paths, diagnostics);
        if (workspace is null || diagnostics.HasErrors || workspace.Playbooks.Count == 0)
        {
            return new PlanResult(null, diagnostics.Sorted());
        }

        var catalog = PluginCatalog.Load(workspace.PluginFolders);
        SourceBinder.Check(workspace, catalog, diagnostics);
        if (diagnostics.HasErrors)
        {
            return new PlanResult(null, diagnostics.Sorted());
        }

        var compiled = PlaybookCompiler.Compile(workspace, diagnostics, load: true);
        if (compiled is null)
        {
            return new PlanResult(null, diagnostics.Sorted());
        }

        var plan = await Planner.PlanAsync(compiled, asOf, EmptyHistory.Instance, catalog, new Secrets(), diagnostics, cancellationToken);
        return new PlanResult(plan, diagnostics.Sorted());
    }
}
