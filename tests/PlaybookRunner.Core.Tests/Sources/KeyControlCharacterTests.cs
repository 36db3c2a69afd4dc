namespace PlaybookRunner.Core.Tests.Sources;

/// <summary>
/// A key with a control character (a stray CR from <c>\r\r\n</c> line endings, a tab) is a data diagnostic
/// under <c>on_bad_row</c>, never silently kept: it would match no related record, history or suppression.
/// </summary>
public sealed class KeyControlCharacterTests
{
    private static readonly DateTimeOffset AsOf = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("csv", "n,id\r\n5,\"A\r\"\r\n6,B\r\n", "U+000D")]
    [InlineData("csv", "id,n\n\"A\t\",5\nB,6\n", "U+0009")]
    [InlineData("jsonl", "{\"id\": \"A\\r\", \"n\": 5}\n{\"id\": \"B\", \"n\": 6}\n", "U+000D")]
    public void A_key_with_a_control_character_fails_the_read_by_default(string kind, string data, string code)
    {
        using var workspace = new TempWorkspace();
        workspace.Write($"d.{kind}", data);
        var file = workspace.Write("p.yaml", $"playbook: p\nsource: {{ kind: {kind}, path: d.{kind}, key: id, fields: {{ id: string, n: int }} }}\nrules:\n  - {{ id: r, when: n > 3 }}\n");

        var result = TestEngine.Plan([file], AsOf);

        var error = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.Contains(error.Id, new[] { "PB4006", "PB4014" });
        Assert.Contains($"has a control character ({code}) in the key", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("csv", "n,id\n5,\"A\r\"\n6,B\n")]
    [InlineData("jsonl", "{\"id\": \"A\\t\", \"n\": 5}\n{\"id\": \"B\", \"n\": 6}\n")]
    public void With_on_bad_row_skip_the_record_is_skipped_with_a_warning(string kind, string data)
    {
        using var workspace = new TempWorkspace();
        workspace.Write($"d.{kind}", data);
        var file = workspace.Write("p.yaml", $"playbook: p\nsource: {{ kind: {kind}, path: d.{kind}, key: id, on_bad_row: skip, fields: {{ id: string, n: int }} }}\nrules:\n  - {{ id: r, when: n > 3 }}\n");

        var result = TestEngine.Plan([file], AsOf);

        Assert.True(result.Plan is not null, string.Join('\n', result.Diagnostics.Select(d => d.Message)));
        Assert.Equal(["B"], result.Plan.Findings.Select(f => f.Key));
        var warning = Assert.Single(result.Diagnostics);
        Assert.Contains(warning.Id, new[] { "PB4007", "PB4015" });
        Assert.Contains("in the key", warning.Message, StringComparison.Ordinal);
    }
}
