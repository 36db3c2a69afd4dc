using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Core.Tests.Reliability;

/// <summary>
/// Bad data files: every problem gets a precise diagnostic (file, line, column where there is one), and
/// with on_bad_row: skip every skipped row or line is reported while the good ones are read.
/// </summary>
public sealed class BadDataTests
{
    private static readonly DateTimeOffset AsOf = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private static (IReadOnlyList<string> Lines, IReadOnlyList<string> Keys) Plan(TempWorkspace workspace, string kind, string data, bool skip)
    {
        workspace.Write($"d.{kind}", data);
        var file = workspace.Write("p.yaml", $$"""
            playbook: p
            source: { kind: {{kind}}, path: d.{{kind}}, key: id, {{(skip ? "on_bad_row: skip, " : "")}}fields: { id: string, n: int, name: "string?" } }
            rules:
              - { id: r, when: n > 0 }
            """);
        var result = TestEngine.Plan([file], AsOf);
        return ([.. result.Diagnostics.Select(d => DiagnosticFormatter.FormatText(d, workspace.Root))], result.Plan?.Findings.Select(f => f.Key).ToList() ?? []);
    }

    private static void Expect((string[] Lines, string[] Keys) expected, (IReadOnlyList<string> Lines, IReadOnlyList<string> Keys) actual)
    {
        Assert.Equal(expected.Lines, actual.Lines);
        Assert.Equal(expected.Keys, actual.Keys);
    }

    [Fact]
    public void Csv_ragged_rows_fail_or_are_skipped_and_reported_and_a_blank_line_holds_no_record()
    {
        using var workspace = new TempWorkspace();
        const string data = "id,n,name\nA,1,Acme\nB,2\nC,3,Co,extra\nD,4,\"Dee\nDum\"\n\n";
        Expect((["d.csv(3,3): error PB4018: Row 3 has 2 cells but the header has 3"], []), Plan(workspace, "csv", data, skip: false));
        Expect(
            (["d.csv(3,3): warning PB4018: Row 3 has 2 cells but the header has 3; skipped", "d.csv(4,4): warning PB4018: Row 4 has 4 cells but the header has 3; skipped"], ["A", "D"]),
            Plan(workspace, "csv", data, skip: true));
    }

    [Fact]
    public void Csv_wrong_types_duplicate_keys_bom_and_crlf()
    {
        using var workspace = new TempWorkspace();
        Expect(
            (["d.csv(3,2): warning PB4007: Skipped row 3, column 2 (n): field 'n' (int) 'two' is not a valid int"], ["A", "C"]),
            Plan(workspace, "csv", "\uFEFFid,n,name\r\nA,1,Acme\r\nB,two,Bolt\r\nC,3,\r\n", skip: true));
        Expect(
            (["d.csv(3,1): error PB4008: Row 3: key 'A' already appeared at row 2"], []),
            Plan(workspace, "csv", "id,n,name\nA,1,x\nA,2,y\n", skip: true));
    }

    [Fact]
    public void Jsonl_bad_lines_values_missing_fields_bom_and_crlf_each_get_a_diagnostic()
    {
        using var workspace = new TempWorkspace();
        const string data = "\uFEFF{\"id\":\"A\",\"n\":1,\"name\":\"x\"}\r\n{\"id\":\"B\",\"n\":\"two\"}\r\n{\"id\":\"C\"}\r\nnot json\r\n\r\n[1,2]\r\n{\"id\":\"D\",\"n\":4}\r\n";
        Expect(
            ([
                "d.jsonl(2,1): warning PB4015: Skipped line 2: field 'n' (int) 'two' is not a valid int",
                "d.jsonl(3,1): warning PB4015: Skipped line 3: field 'n' (int) is missing",
                "d.jsonl(4,1): warning PB4019: Skipped line 4: not valid JSON: 'not json' is an invalid JSON literal. Expected the literal 'null'",
                "d.jsonl(6,1): warning PB4019: Skipped line 6: expected a JSON object, found array",
            ], ["A", "D"]),
            Plan(workspace, "jsonl", data, skip: true));
        Expect((["d.jsonl(2,1): error PB4014: line 2: field 'n' (int) 'two' is not a valid int"], []), Plan(workspace, "jsonl", data, skip: false));
        Expect((["d.jsonl(1,1): error PB4019: line 1: expected a JSON object, found string"], []), Plan(workspace, "jsonl", "\"just text\"\n", skip: false));
        Expect((["d.jsonl(2,1): error PB4008: line 2: key 'A' already appeared at line 1"], []), Plan(workspace, "jsonl", "{\"id\":\"A\",\"n\":1}\n{\"id\":\"A\",\"n\":2}\n", skip: true));
    }
}
