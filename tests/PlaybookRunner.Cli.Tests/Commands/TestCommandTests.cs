using System.Xml.Linq;

namespace PlaybookRunner.Cli.Tests.Commands;

public sealed class TestCommandTests
{
    private const string Playbook = """
        playbook: p
        source: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int, seen: "datetime?" } }
        rules:
          - id: busy
            when: n > 3
            cooldown: 7d
            message: "{{ id }} has {{ n }}"
            actions: [ { type: file, path: out.jsonl, body: "busy {{ id }}" } ]
          - id: quiet
            when: n == 0
        """;

    private static TempDir Workspace(string tests)
    {
        var dir = new TempDir();
        dir.Write("d.csv", "id,n,seen\n");
        dir.Write("p.yaml", Playbook);
        dir.Write("p.test.yaml", tests);
        return dir;
    }

    [Fact]
    public void A_rule_turned_off_by_severity_overrides_fails_its_expectation_with_that_reason()
    {
        using var dir = Workspace("""
            tests:
              - name: busy fires
                playbook: p
                as_of: 2026-03-02T09:00:00Z
                records: [ { id: A, n: 5 } ]
                expect: [ { rule: busy, key: A, fires: true } ]
            """);
        dir.Write("runner.yaml", "severity_overrides:\n  p/busy: none\n");

        var (code, stdout, _) = CliRunner.Run("test", dir.Root);

        Assert.Equal(1, code);
        Assert.Contains("rule busy for key A: expected fires: true, but it does not: the rule is turned off by severity_overrides (none) in runner.yaml", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void The_example_playbooks_pass_their_tests_and_every_rule_is_covered()
    {
        var (code, stdout, stderr) = CliRunner.Run("test", CliRunner.Playbooks, "--coverage");
        Assert.Equal((0, ""), (code, stderr));
        var lines = stdout.ReplaceLineEndings("\n").Split('\n');
        Assert.Equal(15, lines.Count(l => l.StartsWith("ok   ", StringComparison.Ordinal)));
        Assert.Contains("Tests: 15 passed, 0 failed", lines);
        Assert.Contains("Coverage: 8 of 8 rules have a test", lines);
    }

    [Fact]
    public void A_failing_expectation_prints_its_file_and_line_with_expected_and_actual_and_junit_records_it()
    {
        using var dir = Workspace("""
            tests:
              - name: busy customers fire
                playbook: p
                as_of: 2026-03-02T09:00:00Z
                records:
                  - { id: A, n: 5 }
                  - { id: B, n: 1 }
                history:
                  - { rule: busy, key: C, at: 2026-03-01T09:00:00Z }
                expect:
                  - { rule: busy, key: A, fires: true, message_contains: "A has 5",
                      actions: [ { type: file, body: "busy B", path_contains: out } ] }
                  - { rule: busy, key: B, fires: true }
              - name: cooldown holds back
                playbook: p
                as_of: 2026-03-02T09:00:00Z
                records: [ { id: A, n: 5 } ]
                history: [ { rule: busy, key: A, at: 2026-03-01T09:00:00Z } ]
                expect:
                  - { rule: busy, key: A, fires: true }
            """);
        var junit = Path.Combine(dir.Root, "results.xml");
        var (code, stdout, stderr) = CliRunner.Run("test", dir.Root, "--junit", junit, "--coverage");
        var file = TempDir.Display(Path.Combine(dir.Root, "p.test.yaml"));
        Assert.Equal((1, ""), (code, stderr));
        Assert.Equal(
            $"""
            FAIL {Path.GetRelativePath(Directory.GetCurrentDirectory(), Path.Combine(dir.Root, "p.test.yaml"))}: busy customers fire
            {file}(12,42): error PB6001: Test 'busy customers fire': rule busy for key A: action 1 (file) field 'body': expected "busy B", actual "busy A"
            {file}(13,9): error PB6001: Test 'busy customers fire': rule busy for key B: expected fires: true, but it does not: the condition is false
            FAIL {Path.GetRelativePath(Directory.GetCurrentDirectory(), Path.Combine(dir.Root, "p.test.yaml"))}: cooldown holds back
            {file}(20,9): error PB6001: Test 'cooldown holds back': rule busy for key A: expected fires: true, but it is held back by its cooldown until 2026-03-08T09:00:00+00:00
            Tests: 0 passed, 2 failed
            Coverage: 1 of 2 rules have a test
              not covered: p/quiet

            """,
            stdout.ReplaceLineEndings("\n"));

        var xml = XDocument.Load(junit).Root!;
        Assert.Equal(("2", "2"), (xml.Attribute("tests")!.Value, xml.Attribute("failures")!.Value));
        var cases = xml.Descendants("testcase").ToList();
        Assert.Equal(["busy customers fire", "cooldown holds back"], cases.Select(c => c.Attribute("name")!.Value));
        Assert.Equal(["2", "14"], cases.Select(c => c.Attribute("line")!.Value));
        Assert.StartsWith("Test 'busy customers fire': rule busy for key A: action 1", cases[0].Element("failure")!.Attribute("message")!.Value, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_tests_are_diagnostics_at_their_token()
    {
        using var dir = Workspace("""
            tests:
              - name: bad records
                playbook: p
                as_of: 2026-03-02T09:00:00Z
                records:
                  - { id: A, n: five, colour: red }
                  - { id: B }
                  - { id: A, n: 1, seen: 2026-02-30 }
                expect:
                  - { rule: busy, key: A, fires: true }
              - name: unknown names
                playbook: p
                as_of: 2026-03-02T09:00:00Z
                records: []
                history: [ { rule: nope, key: A, at: 2026-03-01 } ]
                expect:
                  - { rule: bussy, key: A, fires: true }
              - name: unknown playbook
                playbook: q
                as_of: 2026-03-02
                records: []
                expect: [ { rule: busy, key: A, fires: false } ]
            """);
        var (code, stdout, _) = CliRunner.Run("test", dir.Root);
        var file = TempDir.Display(Path.Combine(dir.Root, "p.test.yaml"));
        Assert.Equal(1, code);
        var errors = stdout.ReplaceLineEndings("\n").Split('\n').Where(l => l.Contains(" error ", StringComparison.Ordinal)).ToList();
        Assert.Equal(
            [
                $"{file}(6,21): error PB6003: Test 'bad records', record 1: field 'n' (int) 'five' is not a valid int",
                $"{file}(6,27): error PB6003: Test 'bad records', record 1: 'colour' is not a field of source 'p (inline)' (fields: id, n, seen)",
                $"{file}(7,9): error PB6003: Test 'bad records', record 2: field 'n' (int) is missing",
                $"{file}(8,9): error PB6003: Test 'bad records', record 3: key 'A' appears twice",
                $"{file}(8,30): error PB6003: Test 'bad records', record 3: field 'seen' (datetime?) '2026-02-30' is not a valid datetime (expected ISO 8601, e.g. 2026-03-02T09:00:00 or 2026-03-02T09:00:00Z)",
                $"{file}(15,24): error PB6002: Test 'unknown names': history names rule 'nope', which does not exist",
                $"{file}(17,17): error PB6002: Test 'unknown names': playbook 'p' has no rule 'bussy' (rules: busy, quiet); did you mean 'busy'?",
                $"{file}(19,15): error PB6002: Test 'unknown playbook': no playbook 'q' (playbooks: p)",
            ],
            errors);
    }

    [Fact]
    public void A_bad_as_of_a_schema_error_and_no_tests_are_reported()
    {
        using var dir = Workspace("""
            tests:
              - name: bad time
                playbook: p
                as_of: last tuesday
                records: []
                expect: [ { rule: busy, key: A, fires: false } ]
              - name: no expectations
                playbook: p
                as_of: 2026-03-02
                records: []
            """);
        var (code, _, stderr) = CliRunner.Run("test", dir.Root);
        var file = TempDir.Display(Path.Combine(dir.Root, "p.test.yaml"));
        Assert.Equal(1, code);
        Assert.Contains($"{file}(7,5): error PB1003: Missing required key 'expect' in tests[1]", stderr, StringComparison.Ordinal);

        File.Delete(Path.Combine(dir.Root, "p.test.yaml"));
        dir.Write("p.test.yaml", "tests:\n  - { name: t, playbook: p, as_of: last tuesday, records: [], expect: [ { rule: busy, key: A, fires: false } ] }\n");
        var badTime = CliRunner.Run("test", dir.Root);
        Assert.Equal(1, badTime.ExitCode);
        Assert.Contains($"{file}(2,36): error PB6005: 'last tuesday' is not an ISO 8601 date or date-time", badTime.Err, StringComparison.Ordinal);

        File.Delete(Path.Combine(dir.Root, "p.test.yaml"));
        var none = CliRunner.Run("test", dir.Root);
        Assert.Equal(1, none.ExitCode);
        Assert.Equal($"playbook: error PB6004: No *.test.yaml files under {dir.Root}\n", none.Err.ReplaceLineEndings("\n"));
        Assert.Equal("Tests: 0 passed, 0 failed\n", none.Out.ReplaceLineEndings("\n"));
    }
}
