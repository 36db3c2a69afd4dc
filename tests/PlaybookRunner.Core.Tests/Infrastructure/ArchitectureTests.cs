using System.Reflection;
using PlaybookRunner.Core.Compilation;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Loading;

namespace PlaybookRunner.Core.Tests.Infrastructure;

/// <summary>
/// The assemblies depend one way: Abstractions (the plugin contract) &lt;- Runtime (what generated code binds to) &lt;-
/// Core (the engine) &lt;- the CLI. Code generated from playbooks binds to the BCL and Runtime only: no other type of
/// PlaybookRunner is in a user expression's reach, and nothing grants it internals access.
/// </summary>
public sealed class ArchitectureTests
{
    private static IReadOnlyList<string> OurReferences(Assembly assembly) =>
        [.. assembly.GetReferencedAssemblies().Select(a => a.Name!).Where(n => n.StartsWith("PlaybookRunner", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

    [Fact]
    public void Assemblies_depend_one_way_abstractions_runtime_core()
    {
        Assert.Equal([], OurReferences(typeof(Abstractions.FieldKind).Assembly));
        Assert.Equal(["PlaybookRunner.Abstractions"], OurReferences(typeof(GeneratedRecord).Assembly));
        Assert.Equal(["PlaybookRunner.Abstractions", "PlaybookRunner.Runtime"], OurReferences(typeof(PlaybookEngine).Assembly));
    }

    [Fact]
    public void Generated_code_binds_to_the_runtime_only_and_no_assembly_grants_it_internals()
    {
        var diagnostics = new DiagnosticBag();
        var workspace = WorkspaceLoader.Load([TestPaths.Playbooks], diagnostics)!;
        var compiled = PlaybookCompiler.Compile(workspace, diagnostics, load: true)!;
        try
        {
            Assert.Equal(["PlaybookRunner.Runtime"], OurReferences(compiled.Assembly!));
            foreach (var assembly in new[] { typeof(GeneratedRecord).Assembly, typeof(PlaybookEngine).Assembly, typeof(Abstractions.FieldKind).Assembly })
            {
                Assert.DoesNotContain(
                    assembly.GetCustomAttributes<System.Runtime.CompilerServices.InternalsVisibleToAttribute>(),
                    a => a.AssemblyName.StartsWith("PlaybookRunner.Generated", StringComparison.Ordinal));
            }
        }
        finally
        {
            compiled.Unload();
        }
    }

    [Fact]
    public void The_product_has_no_switch_that_only_tests_need()
    {
        // Such switches (stop at a claim, list the loaded assemblies) live in tests/PlaybookRunner.TestHost.
        var offending = Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => File.ReadAllText(f) is var text && (text.Contains("PLAYBOOK_TEST_", StringComparison.Ordinal) || text.Contains("PLAYBOOK_DEBUG_", StringComparison.Ordinal)))
            .Select(f => Path.GetRelativePath(TestPaths.RepoRoot, f))
            .ToList();
        Assert.Equal([], offending);
    }
}
