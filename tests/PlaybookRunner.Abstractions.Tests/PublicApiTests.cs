using System.Reflection;
using System.Text;
using PlaybookRunner.Abstractions;

namespace PlaybookRunner.Abstractions.Tests;

/// <summary>
/// The plugin contract is frozen: its public surface must equal PublicApi.approved.txt. A change
/// here breaks every plugin built against the old contract; make it deliberately, then run with
/// PLAYBOOK_UPDATE_GOLDEN=1 and review the diff.
/// </summary>
public sealed class PublicApiTests
{
    [Fact]
    public void Public_api_matches_the_approved_snapshot()
    {
        var actual = Describe(typeof(ISourcePlugin).Assembly);
        var path = Path.Combine(RepoRoot(), "tests", "PlaybookRunner.Abstractions.Tests", "PublicApi.approved.txt");
        if (Environment.GetEnvironmentVariable("PLAYBOOK_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(path, actual);
            return;
        }

        Assert.Equal(File.ReadAllText(path), actual);
    }

    [Fact]
    public void Contract_has_no_package_dependencies()
    {
        var references = typeof(ISourcePlugin).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();
        Assert.Contains("System.Runtime", references);
        Assert.All(references, name => Assert.StartsWith("System.", name, StringComparison.Ordinal));
    }

    [Fact]
    public void Field_types_round_trip_their_yaml_names()
    {
        foreach (var kind in Enum.GetValues<FieldKind>())
        {
            foreach (var nullable in new[] { false, true })
            {
                var type = new FieldType(kind, nullable);
                Assert.True(FieldType.TryParse(type.ToString(), out var parsed));
                Assert.Equal(type, parsed);
            }
        }

        Assert.False(FieldType.TryParse("money", out _));
        Assert.False(FieldType.TryParse("int??", out _));
        Assert.False(FieldType.TryParse(null, out _));
    }

    private static string Describe(Assembly assembly)
    {
        var text = new StringBuilder();
        foreach (var type in assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            var kind = type.IsEnum ? "enum" : type.IsInterface ? "interface" : type.IsValueType ? "struct" : type.IsAbstract && type.IsSealed ? "static class" : type.IsSealed ? "sealed class" : "class";
            text.Append(kind).Append(' ').Append(type.FullName);
            var bases = new[] { type.BaseType }.Where(b => b is not null && b != typeof(object) && b != typeof(ValueType) && b != typeof(Enum)).Select(b => b!.Name)
                .Concat(type.GetInterfaces().Where(i => !i.Name.StartsWith("IEquatable", StringComparison.Ordinal)).Select(i => i.Name)).ToList();
            if (bases.Count > 0)
            {
                text.Append(" : ").Append(string.Join(", ", bases));
            }

            text.Append('\n');
            var members = type.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
                .Where(m => m is not MethodInfo { IsSpecialName: true } && !(m is MethodInfo { Name: "<Clone>$" or "Deconstruct" or "Equals" or "GetHashCode" or "ToString" or "PrintMembers" } && type.GetMethod("<Clone>$") is not null && m.Name != "ToString"))
                .Select(Member)
                .Order(StringComparer.Ordinal);
            foreach (var member in members)
            {
                text.Append("  ").Append(member).Append('\n');
            }
        }

        return text.ToString();
    }

    private static string Member(MemberInfo member) => member switch
    {
        ConstructorInfo c => $"ctor({Parameters(c.GetParameters())})",
        MethodInfo m => $"{(m.IsStatic ? "static " : "")}{TypeName(m.ReturnType)} {m.Name}({Parameters(m.GetParameters())})",
        PropertyInfo p => $"{TypeName(p.PropertyType)} {p.Name} {{ {(p.GetMethod?.IsPublic == true ? "get; " : "")}{(p.SetMethod?.IsPublic == true ? (p.SetMethod.ReturnParameter.GetRequiredCustomModifiers().Any(t => t.Name == "IsExternalInit") ? "init; " : "set; ") : "")}}}",
        FieldInfo f => $"{(f.IsLiteral ? "const " : f.IsStatic ? "static " : "")}{TypeName(f.FieldType)} {f.Name}",
        Type t => $"nested {t.Name}",
        _ => member.ToString() ?? member.Name,
    };

    private static string Parameters(ParameterInfo[] parameters) => string.Join(", ", parameters.Select(p => $"{TypeName(p.ParameterType)} {p.Name}"));

    private static string TypeName(Type type) => type.IsGenericType
        ? $"{type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)]}<{string.Join(", ", type.GetGenericArguments().Select(TypeName))}>"
        : type.IsByRef ? TypeName(type.GetElementType()!) + "&" : type.Name;

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PlaybookRunner.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("PlaybookRunner.sln not found");
    }
}
