using PlaybookRunner.Core.Evaluation;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Compilation;

/// <summary>A playbook ready to evaluate: its definition, its compiled code and its parsed templates.</summary>
internal sealed record CompiledPlaybookUnit(
    PlaybookDefinition Definition,
    Func<IReadOnlyList<GeneratedRecord>, IEnumerable<GeneratedRecord>, DateTimeOffset, IFiringHistory, TimeSpan, IFindingHandler?, EvaluationSink> Run,
    RuleTemplates[] Templates);

/// <summary>
/// Makes records of one source's generated class (from typed values, straight from a csv row, or from a column population), and
/// typed arrays of them for related lists.
/// </summary>
internal sealed record RecordFactory(
    Func<object?[], GeneratedRecord> Create,
    Func<IEnumerable<GeneratedRecord>, object> MakeArray,
    Func<CsvRecordReader, GeneratedRecord> ReadCsv,
    Func<ColumnCursor, GeneratedRecord> ReadColumns);

/// <summary>Everything <c>validate</c> produced that <c>plan</c> needs.</summary>
internal sealed record CompiledWorkspace(
    WorkspaceDefinition Definition,
    IReadOnlyList<SourceDefinition> Sources,
    IReadOnlyDictionary<SourceDefinition, RecordFactory> RecordFactories,
    IReadOnlyList<CompiledPlaybookUnit> Playbooks,
    System.Reflection.Assembly? Assembly = null)
{
    /// <summary>runner.yaml's digests' action templates, by digest name.</summary>
    public IReadOnlyDictionary<string, CompiledAction> Digests { get; init; } = new Dictionary<string, CompiledAction>();

    /// <summary>When compiled for explain: per playbook and rule, the condition's recorded parts.</summary>
    public IReadOnlyDictionary<(string Playbook, string Rule), IReadOnlyList<ExplainNode>> ExplainNodes { get; init; } =
        new Dictionary<(string Playbook, string Rule), IReadOnlyList<ExplainNode>>();

    /// <summary>
    /// Unloads the generated code's collectible load context. The caller must drop every reference to
    /// this workspace (and to records made by it) for the context to be collected.
    /// </summary>
    public WeakReference? Unload()
    {
        if (Assembly is null || System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(Assembly) is not { IsCollectible: true } context)
        {
            return null;
        }

        context.Unload();
        return new WeakReference(context);
    }
}
