using System.Reflection;
using System.Runtime.Loader;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Evaluation;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Compilation;

/// <summary>
/// Turns a workspace into runnable code: parses every template, takes the generated assembly from the
/// <see cref="CompileCache"/> or has <see cref="RoslynCompiler"/> build it, and (for plan and run) loads
/// it into a collectible load context. Nothing here touches Roslyn, so a cache hit never loads it.
/// </summary>
internal static class PlaybookCompiler
{
    /// <summary>The assembly name the generated code is compiled as (Core grants it internals access).</summary>
    public const string AssemblyName = "PlaybookRunner.Generated";

    /// <summary>The namespace of the generated classes.</summary>
    public const string Namespace = "PlaybookRunner.Generated";

    public static string RecordClassName(int sourceIndex) => $"Record{sourceIndex}";

    public static string PlaybookClassName(int playbookIndex) => $"Playbook{playbookIndex}";

    /// <summary>The position of a source (by reference) in the generated record classes; -1 when absent.</summary>
    public static int IndexOf(IReadOnlyList<SourceDefinition> sources, SourceDefinition source)
    {
        for (var i = 0; i < sources.Count; i++)
        {
            if (ReferenceEquals(sources[i], source))
            {
                return i;
            }
        }

        return -1;
    }

    /// <param name="workspace">What to compile.</param>
    /// <param name="diagnostics">Where problems are reported.</param>
    /// <param name="load">Load the code (plan, run), or only check it (validate).</param>
    /// <param name="explain">
    /// Instrument conditions for <c>explain</c> (cached under a key of its own). Only for a workspace that already
    /// compiled without instrumentation: the allow-list was checked on the original expressions.
    /// </param>
    public static CompiledWorkspace? Compile(WorkspaceDefinition workspace, DiagnosticBag diagnostics, bool load, bool explain = false)
    {
        var sources = workspace.SourcesToRead();
        var templates = workspace.Playbooks.ToDictionary(p => p, p => TemplateCompiler.Compile(p, diagnostics, workspace.Digests));
        var digests = TemplateCompiler.CompileDigests(workspace, diagnostics);
        var image = CompileCached(workspace, sources, diagnostics, explain);
        if (image is null || diagnostics.HasErrors)
        {
            return null;
        }

        return (load
            ? Load(workspace, sources, image, templates)
            : new CompiledWorkspace(workspace, sources, new Dictionary<SourceDefinition, RecordFactory>(), [])) with { Digests = digests };
    }

    /// <summary>
    /// The generated assembly from the compile cache, or compiled by Roslyn and kept there. An instrumented build for
    /// <c>explain</c> is kept under its own key, with the parts of each condition it shows, so a warm <c>explain</c>
    /// does not load Roslyn either.
    /// </summary>
    private static CompiledImage? CompileCached(WorkspaceDefinition workspace, IReadOnlyList<SourceDefinition> sources, DiagnosticBag diagnostics, bool explain)
    {
        var cache = CompileCache.Of(workspace.Host);
        var key = CompileCache.Key(workspace, sources) + (explain ? "-explain" : "");
        if (cache?.TryRead(key) is { } cached && (explain ? ExplainImage.Decode(cached) : new CompiledImage(cached, new Dictionary<(string Playbook, string Rule), IReadOnlyList<ExplainNode>>())) is { } hit)
        {
            return hit;
        }

        var image = RoslynCompiler.Compile(workspace, sources, diagnostics, explain);
        if (image is not null && !diagnostics.HasErrors)
        {
            // Only clean compilations are kept: errors are reported afresh every time.
            cache?.Write(key, explain ? ExplainImage.Encode(image) : image.Image);
        }

        return image;
    }

    private static CompiledWorkspace Load(WorkspaceDefinition workspace, IReadOnlyList<SourceDefinition> sources, CompiledImage image, Dictionary<PlaybookDefinition, RuleTemplates[]> templates)
    {
        var context = new AssemblyLoadContext("playbooks", isCollectible: true);
        using var stream = new MemoryStream(image.Image, writable: false);
        var assembly = context.LoadFromStream(stream);
        var factories = new Dictionary<SourceDefinition, RecordFactory>();
        for (var i = 0; i < sources.Count; i++)
        {
            var type = assembly.GetType($"{Namespace}.{RecordClassName(i)}")!;
            factories[sources[i]] = new RecordFactory(
                type.GetMethod("Create")!.CreateDelegate<Func<object?[], GeneratedRecord>>(),
                type.GetMethod("MakeArray")!.CreateDelegate<Func<IEnumerable<GeneratedRecord>, object>>(),
                type.GetMethod("ReadCsv")!.CreateDelegate<Func<CsvRecordReader, GeneratedRecord>>(),
                type.GetMethod("ReadColumns")!.CreateDelegate<Func<ColumnCursor, GeneratedRecord>>());
        }

        var playbooks = workspace.Playbooks;
        var calendar = new Runtime.BusinessCalendar(workspace.Calendar.WorkingDays, workspace.Calendar.Holidays);
        var units = new List<CompiledPlaybookUnit>();
        for (var i = 0; i < playbooks.Count; i++)
        {
            var type = assembly.GetType($"{Namespace}.{PlaybookClassName(i)}")!;
            var definition = playbooks[i];
            var shape = new PlaybookShape(definition.Id, definition.TimeZone, [.. definition.Rules.Select(r => r.Id)], [.. definition.Lets.Select(l => l.Name)], [.. definition.Segments.Select(s => s.Name)])
            {
                ValueNames = [.. definition.Values.Select(v => v.Name)],
                Calendar = calendar,
            };
            units.Add(new CompiledPlaybookUnit(
                definition,
                (population, records, now, history, budget, onFinding) => ((IPlaybookEntry)Activator.CreateInstance(type)!).__RunAny(population, records, now, shape, history, budget, onFinding),
                templates[definition]));
        }

        return new CompiledWorkspace(workspace, sources, factories, units, assembly) { ExplainNodes = image.ExplainNodes };
    }
}
