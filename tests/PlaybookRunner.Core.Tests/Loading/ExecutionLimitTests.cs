namespace PlaybookRunner.Core.Tests.Loading;

/// <summary>The limits a workspace sets for itself have ceilings: an author cannot lift them without bound.</summary>
public sealed class ExecutionLimitTests
{
    [Theory]
    [InlineData("evaluation_budget_ms", "600001", "600000")]
    [InlineData("evaluation_budget_ms", "99999999999", "600000")]
    [InlineData("worker_memory_mb", "16385", "16384")]
    [InlineData("worker_timeout_seconds", "86400", "3600")]
    public void A_limit_above_its_ceiling_is_an_error_at_its_value(string setting, string value, string ceiling)
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", "id\nA\n");
        workspace.Write("runner.yaml", $"execution:\n  {setting}: {value}\n");
        var file = workspace.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: data.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: \"true\" }\n");

        var error = Assert.Single(TestEngine.Validate([file]).Diagnostics, d => d.IsError);
        Assert.Equal(("PB1005", 2, setting.Length + 5), (error.Id, error.Location.Line, error.Location.Column));
        Assert.EndsWith($"must be at most {ceiling}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_limit_at_its_ceiling_is_fine()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", "id\nA\n");
        workspace.Write("runner.yaml", "execution: { evaluation_budget_ms: 600000, worker_memory_mb: 16384, worker_timeout_seconds: 3600 }\n");
        var file = workspace.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: data.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: \"true\" }\n");

        Assert.True(TestEngine.Validate([file]).Success);
    }
}
