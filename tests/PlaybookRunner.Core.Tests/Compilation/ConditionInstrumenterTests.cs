using PlaybookRunner.Core.Compilation;
using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Core.Tests.Compilation;

public sealed class ConditionInstrumenterTests
{
    [Fact]
    public void Operands_comparisons_and_calls_are_wrapped_literals_and_lambda_bodies_are_not()
    {
        var (text, nodes) = ConditionInstrumenter.Instrument("!(n > 1) && (tags.Any(t => t == \"vip\") || Max(a, 3) >= b)", 2);
        Assert.Equal(
            "__X(2, 0, !(__X(2, 1, __X(2, 2, n) > 1))) && (__X(2, 3, __X(2, 4, tags.Any(t => t == \"vip\")) || __X(2, 5, __X(2, 6, Max(__X(2, 7, a), 3)) >= __X(2, 8, b))))",
            text);
        Assert.Equal(
            [(0, "!(n > 1)", 0), (1, "n > 1", 1), (2, "n", 2), (3, "tags.Any(t => t == \"vip\") || Max(a, 3) >= b", 0), (4, "tags.Any(t => t == \"vip\")", 1),
             (5, "Max(a, 3) >= b", 1), (6, "Max(a, 3)", 2), (7, "a", 3), (8, "b", 2)],
            nodes.Select(n => (n.Index, n.Text, n.Depth)));
    }

    [Fact]
    public void Every_example_playbook_compiles_instrumented()
    {
        var diagnostics = new DiagnosticBag();
        var workspace = Core.Loading.WorkspaceLoader.Load([TestPaths.Playbooks], TestEngine.Host(), diagnostics)!;
        var compiled = PlaybookCompiler.Compile(workspace, diagnostics, load: true, explain: true);
        Assert.DoesNotContain(diagnostics.Items, d => d.IsError);
        Assert.NotNull(compiled);
        Assert.Equal(8, compiled.ExplainNodes.Count);
        compiled.Unload();
    }
}
