using System.Reflection;
using PlaybookRunner.Core.Compilation;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Loading;

namespace PlaybookRunner.Core.Tests.Infrastructure;

/// <summary>
/// The assemblies depend one way: Abstractions (the plugin contract) &lt;- Runtime (what generated code binds to) &lt;-
/// Core (the engine) &lt;- Hosting (the daemon) &lt;- the CLI (verbs only, on the public surface). Code generated from playbooks binds to the BCL and Runtime only: no other type of
/// PlaybookRunner is in a user expression's reach, and nothing grants it internals access.
/// </summary>
public sealed class ArchitectureTests
{
    private static IReadOnlyList<string> OurReferences(Assembly assembly) =>
        [.. assembly.GetReferencedAssemblies().Select(a => a.Name!).Where(n => n.StartsWith("PlaybookRunner", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

    [Fact]
    public void Assemblies_depend_one_way_abstractions_runtime_core_hosting_cli()
    {
        Assert.Equal([], OurReferences(typeof(Abstractions.FieldKind).Assembly));
        Assert.Equal(["PlaybookRunner.Abstractions"], OurReferences(typeof(GeneratedRecord).Assembly));
        Assert.Equal(["PlaybookRunner.Abstractions", "PlaybookRunner.Runtime"], OurReferences(typeof(PlaybookEngine).Assembly));
        Assert.DoesNotContain("PlaybookRunner.Hosting", OurReferences(typeof(PlaybookEngine).Assembly));
        Assert.All(OurReferences(typeof(Hosting.Daemon).Assembly), name => Assert.Contains(name, new[] { "PlaybookRunner.Abstractions", "PlaybookRunner.Core", "PlaybookRunner.Runtime" }));
    }

    [Fact]
    public void The_cli_is_verbs_on_the_public_surface_with_no_internals_access()
    {
        foreach (var assembly in new[] { typeof(Abstractions.FieldKind).Assembly, typeof(GeneratedRecord).Assembly, typeof(PlaybookEngine).Assembly, typeof(Hosting.Daemon).Assembly })
        {
            var granted = assembly.GetCustomAttributes<System.Runtime.CompilerServices.InternalsVisibleToAttribute>().Select(a => a.AssemblyName).ToList();
            Assert.DoesNotContain("playbook", granted);
            Assert.DoesNotContain("playbook-testhost", granted);
        }

        // The daemon is built on the engine's internals; nothing else outside the tests is.
        var core = typeof(PlaybookEngine).Assembly.GetCustomAttributes<System.Runtime.CompilerServices.InternalsVisibleToAttribute>()
            .Select(a => a.AssemblyName).Where(n => !n.EndsWith(".Tests", StringComparison.Ordinal) && n != "PlaybookRunner.Benchmarks");
        Assert.Equal(["PlaybookRunner.Hosting"], core);
    }

    [Fact]
    public void Generated_code_binds_to_the_runtime_only_and_no_assembly_grants_it_internals()
    {
        var diagnostics = new DiagnosticBag();
        var workspace = WorkspaceLoader.Load([TestPaths.Playbooks], TestEngine.Host(), diagnostics)!;
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
/// Dependencies between Core's namespaces as its types show them: signatures (base types, interfaces, fields,
/// properties, method parameters and results) and method bodies (the types and members their IL refers to, lambdas
/// and async methods included, as they compile to nested types). The target is one direction: Diagnostics &lt;- Model &lt;- Yaml &lt;- Loading
/// &lt;- Compilation; Sources and Evaluation on top; Planning; then Execution and Testing; the engine last (the daemon is an assembly of its own, Hosting).
/// Plugins (the plugin loader) sits with Model, under everything that uses a catalog. Every edge below is with that
/// direction; a new edge fails this test until it is added here on purpose, and a listed edge that is gone must be
/// removed from the list.
/// </summary>
public sealed class NamespaceDependencyTests
{
    private static readonly HashSet<string> Allowed = new(StringComparer.Ordinal)
    {
        "(engine) -> Compilation", "(engine) -> Diagnostics", "(engine) -> Execution", "(engine) -> Loading", "(engine) -> Model", "(engine) -> Planning",
        "(engine) -> Plugins", "(engine) -> Sources", "(engine) -> Testing", "(engine) -> Yaml",
        "Compilation -> Diagnostics", "Compilation -> Model", "Compilation -> Yaml",
        "Evaluation -> Compilation", "Evaluation -> Diagnostics", "Evaluation -> Model",
        "Execution -> Diagnostics", "Execution -> Loading", "Execution -> Model", "Execution -> Planning", "Execution -> Plugins", "Execution -> Sources",
        "Loading -> Diagnostics", "Loading -> Model", "Loading -> Yaml",
        "Model -> Diagnostics",
        "Planning -> Compilation", "Planning -> Diagnostics", "Planning -> Evaluation", "Planning -> Loading", "Planning -> Model", "Planning -> Plugins", "Planning -> Sources",
        "Plugins -> Diagnostics", "Plugins -> Model",
        "Sources -> Diagnostics", "Sources -> Loading", "Sources -> Model", "Sources -> Plugins", "Sources -> Yaml",
        "Testing -> Compilation", "Testing -> Diagnostics", "Testing -> Loading", "Testing -> Model", "Testing -> Planning", "Testing -> Sources", "Testing -> Yaml",
        "Yaml -> Diagnostics", "Yaml -> Model",
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

        direct.AddRange(type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)).SelectMany(UsedInBody));
        return direct.SelectMany(Expand);
    }

    private static readonly Dictionary<short, System.Reflection.Emit.OpCode> OpCodesByValue = typeof(System.Reflection.Emit.OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (System.Reflection.Emit.OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    /// <summary>The types a method's body refers to (calls, fields, type tokens), read from its IL: what signatures do not show.</summary>
    private static IEnumerable<Type> UsedInBody(MethodBase method)
    {
        if (method.GetMethodBody()?.GetILAsByteArray() is not { } il)
        {
            yield break;
        }

        var typeArguments = method.DeclaringType is { IsGenericType: true } declaring ? declaring.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (var at = 0; at < il.Length;)
        {
            short value = il[at] == 0xFE ? (short)(0xFE00 | il[at + 1]) : il[at];
            at += il[at] == 0xFE ? 2 : 1;
            var code = OpCodesByValue[value];
            var size = code.OperandType switch
            {
                System.Reflection.Emit.OperandType.InlineNone => 0,
                System.Reflection.Emit.OperandType.ShortInlineBrTarget or System.Reflection.Emit.OperandType.ShortInlineI or System.Reflection.Emit.OperandType.ShortInlineVar => 1,
                System.Reflection.Emit.OperandType.InlineVar => 2,
                System.Reflection.Emit.OperandType.InlineI8 or System.Reflection.Emit.OperandType.InlineR => 8,
                System.Reflection.Emit.OperandType.InlineSwitch => 4 + (4 * BitConverter.ToInt32(il, at)),
                _ => 4,
            };
            if (code.OperandType is System.Reflection.Emit.OperandType.InlineMethod or System.Reflection.Emit.OperandType.InlineField
                or System.Reflection.Emit.OperandType.InlineType or System.Reflection.Emit.OperandType.InlineTok)
            {
                Type? used = null;
                try
                {
                    var member = method.Module.ResolveMember(BitConverter.ToInt32(il, at), typeArguments, methodArguments);
                    used = member as Type ?? member?.DeclaringType;
                }
                catch (ArgumentException)
                {
                }

                if (used is not null)
                {
                    yield return used;
                }
            }

            at += size;
        }
    }

    [Fact]
    public void Method_bodies_count_lambdas_and_async_methods_included()
    {
        // ActionRules appears in no signature of the loader, only inside its methods (and their lambdas).
        Assert.Contains(typeof(Core.Model.ActionRules), Mentioned(typeof(WorkspaceLoader)).Concat(typeof(WorkspaceLoader).GetNestedTypes(BindingFlags.NonPublic).SelectMany(Mentioned)));
        // An async method's body is a nested state machine: what it uses is found there.
        var engine = typeof(PlaybookEngine).GetNestedTypes(BindingFlags.NonPublic).SelectMany(Mentioned).ToList();
        Assert.Contains(typeof(Core.Planning.Planner), engine);
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
