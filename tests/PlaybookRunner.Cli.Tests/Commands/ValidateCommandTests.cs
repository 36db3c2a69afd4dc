using System.Text.Json;

namespace PlaybookRunner.Cli.Tests.Commands;

public sealed class ValidateCommandTests
{
    [Fact]
    public void Examples_validate_with_exit_code_zero()
    {
        var (code, stdout, stderr) = CliRunner.Run("validate", CliRunner.Playbooks);
        Assert.Equal(0, code);
        Assert.Equal("Validated 3 playbook(s), 8 rule(s): 0 error(s), 0 warning(s)\n", stdout.ReplaceLineEndings("\n"));
        Assert.Empty(stderr);
    }

    private static string Broken(TempDir dir) => dir.Write("broken.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string } }\nrules:\n  - id: r\n    wen: id == \"x\"\n");

    [Fact]
    public void Broken_playbook_exits_one_with_located_text_diagnostics()
    {
        using var dir = new TempDir();
        var file = Broken(dir);
        var (code, stdout, _) = CliRunner.Run("validate", file);
        Assert.Equal(1, code);
        var lines = stdout.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"{TempDir.Display(file)}(4,5): error PB1003: Missing required key 'when' in rules[0]", lines[0]);
        Assert.Equal($"{TempDir.Display(file)}(5,5): error PB1002: Unknown key 'wen' in rules[0]; did you mean 'when'?", lines[1]);
        Assert.Equal("Validation failed: 2 error(s), 0 warning(s)", lines[2]);
    }

    [Fact]
    public void Json_and_sarif_formats_carry_the_same_diagnostics()
    {
        using var dir = new TempDir();
        var file = Broken(dir);
        var (code, json, _) = CliRunner.Run("validate", file, "--format", "json");
        Assert.Equal(1, code);
        var root = JsonDocument.Parse(json).RootElement;
        Assert.Equal(2, root.GetProperty("errors").GetInt32());
        Assert.Equal(["PB1003", "PB1002"], root.GetProperty("diagnostics").EnumerateArray().Select(d => d.GetProperty("id").GetString()));
        Assert.Equal(5, root.GetProperty("diagnostics")[1].GetProperty("line").GetInt32());

        var (sarifCode, sarif, _) = CliRunner.Run("validate", file, "--format", "sarif");
        Assert.Equal(1, sarifCode);
        var results = JsonDocument.Parse(sarif).RootElement.GetProperty("runs")[0].GetProperty("results");
        Assert.Equal(["PB1003", "PB1002"], results.EnumerateArray().Select(r => r.GetProperty("ruleId").GetString()));
    }

    [Fact]
    public void Bad_usage_exits_two()
    {
        Assert.Equal(2, CliRunner.Run("validate", "--format", "yaml").ExitCode);
        Assert.Equal(2, CliRunner.Run("frobnicate").ExitCode);
        var (code, _, stderr) = CliRunner.Run("validate", "--no-such-option");
        Assert.Equal(2, code);
        Assert.Contains("error PB1024", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_path_is_a_diagnostic_not_a_crash()
    {
        var (code, stdout, _) = CliRunner.Run("validate", "/no/such/folder");
        Assert.Equal(1, code);
        Assert.StartsWith("playbook: error PB1018: Cannot read /no/such/folder: no such file or folder", stdout, StringComparison.Ordinal);
    }
}

public sealed class SourcesCommandTests
{
    [Fact]
    public void Describe_prints_declared_and_inferred_fields()
    {
        var (code, stdout, stderr) = CliRunner.Run("sources", "describe", "crm", CliRunner.Playbooks);
        Assert.Equal((0, ""), (code, stderr));
        Assert.StartsWith("Source crm: kind csv, key id, path data/customers.csv\n\nDeclared fields:\n", stdout.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("\n  tags: string[]?\n", stdout.ReplaceLineEndings("\n"), StringComparison.Ordinal);
    }

    [Fact]
    public void Describe_works_on_a_source_written_without_fields_yet_and_prints_them_ready_to_paste()
    {
        using var dir = new TempDir();
        dir.Write("d.csv", "id,name,n\nA,Acme,1\n");
        dir.Write("runner.yaml", "sources:\n  crm: { kind: csv, path: d.csv, key: id }\n");

        var (code, stdout, stderr) = CliRunner.Run("sources", "describe", "crm", dir.Root);

        Assert.Equal(0, code);
        Assert.DoesNotContain("'fields'", stderr, StringComparison.Ordinal);
        Assert.Contains("Declared fields: none yet", stdout, StringComparison.Ordinal);
        Assert.Contains("fields:\n  id: string\n  name: string\n  n: int\n", stdout.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        dir.Write("runner.yaml", "sources:\n  crm: { kind: csv, key: id }\n");
        Assert.Equal(1, CliRunner.Run("sources", "describe", "crm", dir.Root).ExitCode);
    }

    [Fact]
    public void Describe_of_an_unknown_source_exits_one()
    {
        var (code, stdout, stderr) = CliRunner.Run("sources", "describe", "nope", CliRunner.Playbooks);
        Assert.Equal((1, ""), (code, stdout));
        Assert.Contains("error PB4001: Source 'nope' is not defined in runner.yaml (known: crm, tickets)", stderr, StringComparison.Ordinal);
    }
}
