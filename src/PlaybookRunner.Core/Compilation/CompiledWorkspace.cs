using PlaybookRunner.Core.Evaluation;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Compilation;

/// <summary>A playbook ready to evaluate: its definition, its compiled code and its parsed templates.</summary>
internal sealed record CompiledPlaybookUnit(
    PlaybookDefinition Definition,
    Func<IReadOnlyList<GeneratedRecord>, DateTimeOffset, IFiringHistory, TimeSpan, EvaluationSink> Run,
    RuleTemplates[] Templates);

/// <summary>Everything <c>validate</c> produced that <c>plan</c> needs.</summary>
internal sealed record CompiledWorkspace(
    WorkspaceDefinition Definition,
    IReadOnlyList<SourceDefinition> Sources,
    IReadOnlyDictionary<SourceDefinition, Func<object?[], GeneratedRecord>> RecordFactories,
    IReadOnlyList<CompiledPlaybookUnit> Playbooks,
    System.Reflection.Assembly? Assembly = null);
