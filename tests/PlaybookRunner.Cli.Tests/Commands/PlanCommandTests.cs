namespace PlaybookRunner.Cli.Tests.Commands;

public sealed class PlanCommandTests
{
    private static string Golden => File.ReadAllText(Path.Combine(CliRunner.RepoRoot, "tests", "PlaybookRunner.Core.Tests", "Goldens", "examples.plan.json"));

    [Fact]
    public void Json_plan_as_of_matches_the_golden()
    {
        var (code, stdout, stderr) = CliRunner.Run("plan", CliRunner.Playbooks, "--format", "json", "--as-of", "2026-03-02T09:00:00Z");
        Assert.Equal(0, code);
        Assert.Equal(Golden, CliRunner.WithoutProvenance(stdout));
        Assert.Empty(stderr);
    }

    [Fact]
    public void As_of_defaults_to_the_clock_and_out_writes_a_file()
    {
        using var dir = new TempDir();
        var file = Path.Combine(dir.Root, "sub", "plan.json");
        var (code, stdout, _) = CliRunner.Run("plan", CliRunner.Playbooks, "--format", "json", "--out", file);
        Assert.Equal(0, code);
        Assert.Empty(stdout);
        Assert.Equal(Golden, CliRunner.WithoutProvenance(File.ReadAllText(file)));
    }

    [Fact]
    public void Detailed_exit_code_is_two_when_actions_are_pending()
    {
        Assert.Equal(2, CliRunner.Run("plan", CliRunner.Playbooks, "--detailed-exitcode").ExitCode);
    }

    [Fact]
    public void Nothing_to_do_exits_zero_even_with_detailed_exit_code()
    {
        using var dir = new TempDir();
        dir.Write("d.csv", "id\nA\n");
        var file = dir.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: id == \"B\" }\n");
        var (code, stdout, _) = CliRunner.Run("plan", file, "--detailed-exitcode");
        Assert.Equal(0, code);
        Assert.EndsWith("Summary: 1 records, 0 findings, 0 actions pending, 0 suppressed, 0 held back, 0 errors\n", stdout.ReplaceLineEndings("\n"), StringComparison.Ordinal);
    }

    [Fact]
    public void Text_plan_lists_findings_and_a_summary()
    {
        var (code, stdout, _) = CliRunner.Run("plan", CliRunner.Playbooks, "--as-of", "2026-03-02T09:00:00Z");
        Assert.Equal(0, code);
        var text = stdout.ReplaceLineEndings("\n");
        Assert.StartsWith("Plan as of 2026-03-02T09:00:00+00:00\n\nkey-client-care/no-contact-30d (warning): 4 findings\n  + C-1002  Brightwater Logistics plc: no contact for 46 days\n", text, StringComparison.Ordinal);
        Assert.EndsWith("Summary: 40 records, 30 findings, 25 actions pending, 1 suppressed, 0 held back, 0 errors, 5 waiting, 1 deferred, 2 digests\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_as_of_is_bad_usage()
    {
        var (code, _, stderr) = CliRunner.Run("plan", CliRunner.Playbooks, "--as-of", "next tuesday");
        Assert.Equal(2, code);
        Assert.Contains("--as-of 'next tuesday' is not an ISO 8601 date or time", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Data_errors_exit_one_with_the_data_location()
    {
        using var dir = new TempDir();
        dir.Write("d.csv", "id,n\nA,1\nB,x\n");
        var file = dir.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }\nrules:\n  - { id: r, when: n > 0 }\n");
        var (code, stdout, stderr) = CliRunner.Run("plan", file);
        Assert.Equal(1, code);
        Assert.Empty(stdout);
        Assert.Contains($"d.csv(3,2): error PB4006: Row 3, column 2 (n): field 'n' (int) 'x' is not a valid int", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Condition_errors_are_listed_and_exit_one()
    {
        using var dir = new TempDir();
        dir.Write("d.csv", "id,n\nA,1\nB,\n");
        var file = dir.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int? } }\nrules:\n  - { id: r, when: n.Value > 0 }\n  - { id: s, when: id == \"B\" }\n");
        var (code, stdout, _) = CliRunner.Run("plan", file, "--as-of", "2026-01-01");
        Assert.Equal(1, code);
        Assert.Contains("error PB5001: p: rule 'r' threw for key 'B': InvalidOperationException: Nullable object must have a value", stdout, StringComparison.Ordinal);
        Assert.Contains("p/s (warning): 1 finding", stdout, StringComparison.Ordinal);
    }
}

public sealed class AsOfParsingTests
{
    [Theory]
    [InlineData("03/02/2026")]
    [InlineData("2026-3-2")]
    [InlineData("March 2")]
    public void Only_iso_8601_is_accepted(string text) => Assert.Equal(2, CliRunner.Run("plan", CliRunner.Playbooks, "--as-of", text).ExitCode);

    [Theory]
    [InlineData("2026-03-02")]
    [InlineData("2026-03-02T09:00")]
    [InlineData("2026-03-02T09:00:00+01:00")]
    [InlineData("2026-03-02T09:00:00.5Z")]
    public void Iso_forms_are_accepted(string text) => Assert.Equal(0, CliRunner.Run("plan", CliRunner.Playbooks, "--as-of", text).ExitCode);
}
