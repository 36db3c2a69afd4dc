using System.Text.Json;

namespace PlaybookRunner.Core.Tests.Loading;

/// <summary>The language reference and the schemas cannot drift: every key a schema accepts is documented.</summary>
public sealed class DocsTests
{
    [Theory]
    [InlineData("playbook.schema.json")]
    [InlineData("runner.schema.json")]
    [InlineData("tests.schema.json")]
    [InlineData("suppressions.schema.json")]
    public void Every_key_of_the_schema_is_in_the_language_reference(string schema)
    {
        var docs = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "language.md"));
        var keys = new SortedSet<string>(StringComparer.Ordinal);
        Collect(JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "schema", schema))).RootElement, keys);
        Assert.NotEmpty(keys);
        Assert.Equal([], keys.Where(k => !docs.Contains($"`{k}`", StringComparison.Ordinal)));
    }

    private static void Collect(JsonElement element, ISet<string> keys)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (property.Name == "properties" && property.Value.ValueKind == JsonValueKind.Object)
                {
                    foreach (var key in property.Value.EnumerateObject())
                    {
                        keys.Add(key.Name);
                    }
                }

                Collect(property.Value, keys);
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray())
            {
                Collect(item, keys);
            }
        }
    }
}
