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

/// <summary>
/// Dependencies between Core's namespaces as its types' signatures show them (base types, interfaces, fields,
/// properties, method parameters and results). The target is one direction: Diagnostics &lt;- Model &lt;- Yaml &lt;- Loading
/// &lt;- Compilation; Sources and Evaluation on top; Planning; then Execution, Testing and Scheduling; the engine last.
/// Today's edges against it are listed as known debt (issue 20); a new edge fails this test until it is added here on
/// purpose, and a listed edge that is gone must be removed from the list.
/// </summary>
public sealed class NamespaceDependencyTests
{
    private static readonly HashSet<string> Allowed = new(StringComparer.Ordinal)
    {
        // With the target direction.
        "(engine) -> Compilation", "(engine) -> Diagnostics", "(engine) -> Execution", "(engine) -> Model", "(engine) -> Planning",
        "(engine) -> Plugins", "(engine) -> Sources", "(engine) -> Testing",
        "Compilation -> Diagnostics", "Compilation -> Model",
        "Execution -> Diagnostics", "Execution -> Model", "Execution -> Planning", "Execution -> Plugins", "Execution -> Sources",
        "Loading -> Diagnostics", "Loading -> Model", "Loading -> Yaml",
        "Model -> Diagnostics",
        "Planning -> Compilation", "Planning -> Diagnostics", "Planning -> Evaluation", "Planning -> Model", "Planning -> Plugins", "Planning -> Sources",
        "Plugins -> Diagnostics",
        "Scheduling -> Compilation", "Scheduling -> Diagnostics", "Scheduling -> Execution", "Scheduling -> Loading", "Scheduling -> Model",
        "Scheduling -> Planning", "Scheduling -> Sources",
        "Sources -> Diagnostics", "Sources -> Loading", "Sources -> Model", "Sources -> Plugins",
        "Testing -> Compilation", "Testing -> Diagnostics", "Testing -> Model", "Testing -> Planning", "Testing -> Sources", "Testing -> Yaml",
        "Yaml -> Diagnostics", "Yaml -> Model",

        // Known debt, against the target (issue 20): to be removed, never added to.
        "Evaluation -> Compilation", "Planning -> Execution", "Scheduling -> (engine)", "Testing -> (engine)",
    };

    private static string Area(Type type)
    {
        var ns = type.Namespace ?? "";
        return ns == "PlaybookRunner.Core" ? "(engine)" : ns.StartsWith("PlaybookRunner.Core.", StringComparison.Ordinal) ? ns["PlaybookRunner.Core.".Length..].Split('.')[0] : "";
    }

    private static IEnumerable<Type> Mentioned(Type type)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        IEnumerable<Type> Expand(Type t) => t.IsGenericType ? [t.GetGenericTypeDefinition(), .. t.GetGenericArguments().SelectMany(Expand)]
            : t.HasElementType ? Expand(t.GetElementType()!) : [t];
        var direct = new List<Type>();
        if (type.BaseType is { } baseType)
        {
            direct.Add(baseType);
        }

        direct.AddRange(type.GetInterfaces());
        direct.AddRange(type.GetFields(all).Select(f => f.FieldType));
        direct.AddRange(type.GetProperties(all).Select(p => p.PropertyType));
        foreach (var method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
        {
            direct.AddRange(method.GetParameters().Select(p => p.ParameterType));
            if (method is MethodInfo info)
            {
                direct.Add(info.ReturnType);
            }
        }

        return direct.SelectMany(Expand);
    }

    [Fact]
    public void Core_namespaces_gain_no_new_dependency()
    {
        var edges = typeof(PlaybookEngine).Assembly.GetTypes()
            .Where(t => Area(t).Length > 0)
            .SelectMany(t => Mentioned(t).Where(m => m.Assembly == t.Assembly && Area(m).Length > 0 && Area(m) != Area(t)).Select(m => $"{Area(t)} -> {Area(m)}"))
            .ToHashSet(StringComparer.Ordinal);
        var added = edges.Except(Allowed).Order(StringComparer.Ordinal).ToList();
        var gone = Allowed.Except(edges).Order(StringComparer.Ordinal).ToList();
        Assert.True(added.Count == 0 && gone.Count == 0,
            $"new: {string.Join(", ", added)}; gone: {string.Join(", ", gone)}; all now: {string.Join(", ", edges.Order(StringComparer.Ordinal).Select(e => $"\"{e}\""))}");
    }
}
