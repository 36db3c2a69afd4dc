using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Core.Tests.Sources;

public sealed class CsvSourceTests
{
    private static string TelcoPlaybook(string totalChargesType) => $$$"""
        playbook: telco-churn
        timezone: UTC
        source:
          kind: csv
          path: {{{TestPaths.TelcoCsv}}}
          key: id
          fields:
            id: { type: string, column: customerID }
            tenure: int
            contract: { type: string, column: Contract }
            monthly: { type: decimal, column: MonthlyCharges }
            total_charges: { type: "{{{totalChargesType}}}", column: TotalCharges }
            churned: { type: bool, column: Churn }
        let:
          missing_totals: Count(c => c.total_charges == null)
          median_monthly: Percentile(c => c.monthly, 0.5)
        rules:
          - id: new-high-value-month-to-month
            severity: warning
            when: contract == "Month-to-month" && tenure <= 3 && monthly > 100m
            message: "{{ id }} pays {{ monthly | money }} a month; {{ missing_totals }} customers have no total yet"
        """;

    [TelcoFact]
    public void Telco_plan_with_nullable_total_reads_every_row_and_counts_eleven_missing()
    {
        using var workspace = new TempWorkspace();
        var file = workspace.Write("telco.yaml", TelcoPlaybook("decimal?"));
        var result = TestEngine.Plan([file], new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero));
        Assert.True(result.Success, string.Join("\n", result.Diagnostics.Select(d => d.Message)));
        var plan = result.Plan!;
        Assert.Equal(7043, plan.Summary.Records);
        Assert.Equal(0, plan.Summary.Errors);
        Assert.NotEmpty(plan.Findings);
        Assert.All(plan.Findings, f => Assert.EndsWith("; 11 customers have no total yet", f.Message, StringComparison.Ordinal));
    }

    [TelcoFact]
    public void Telco_plan_with_required_total_fails_at_the_first_blank_cell()
    {
        using var workspace = new TempWorkspace();
        var file = workspace.Write("telco.yaml", TelcoPlaybook("decimal"));
        var result = TestEngine.Plan([file], new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero));
        Assert.Null(result.Plan);
        var error = Assert.Single(result.Diagnostics);
        Assert.Equal("PB4006", error.Id);
        Assert.Equal(TestPaths.TelcoCsv, error.Location.Path);
        Assert.Equal(490, error.Location.Line);
        Assert.Equal(20, error.Location.Column);
        Assert.Equal("Row 490, column 20 (TotalCharges): field 'total_charges' (decimal) is missing", error.Message);
    }

    private static (PlanResult Result, string Csv) PlanCsv(TempWorkspace workspace, string csv, string fields, string extra = "")
    {
        var data = workspace.Write("data.csv", csv);
        var file = workspace.Write("p.yaml", $$$"""
            playbook: p
            source:
              kind: csv
              path: data.csv
              key: id
            {{{extra}}}
              fields:
            {{{fields}}}
            rules:
              - id: all
                when: "true"
                message: "{{ id }}"
            """);
        return (TestEngine.Plan([file], DateTimeOffset.UnixEpoch), data);
    }

    [Fact]
    public void Bad_value_reports_file_line_column_field_and_value()
    {
        using var workspace = new TempWorkspace();
        var (result, csv) = PlanCsv(workspace, "id,n\nA,1\nB,x1\n", "    id: string\n    n: int");
        var error = Assert.Single(result.Diagnostics);
        Assert.Equal(SourceLocation.At(csv, 3, 2), error.Location);
        Assert.Equal("Row 3, column 2 (n): field 'n' (int) 'x1' is not a valid int", error.Message);
    }

    [Fact]
    public void Quoted_newlines_keep_line_numbers_right()
    {
        using var workspace = new TempWorkspace();
        var (result, csv) = PlanCsv(workspace, "id,note,n\nA,\"two\nlines\",1\nB,plain,oops\n", "    id: string\n    note: string\n    n: int");
        var error = Assert.Single(result.Diagnostics);
        Assert.Equal(4, error.Location.Line);
        Assert.Equal(3, error.Location.Column);
        Assert.StartsWith("Row 3, column 3 (n)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Skip_policy_reports_every_skipped_row_and_keeps_the_rest()
    {
        using var workspace = new TempWorkspace();
        var (result, _) = PlanCsv(workspace, "id,n\nA,1\nB,\nC,zz\nD,4\n", "    id: string\n    n: int", "  on_bad_row: skip");
        Assert.True(result.Success);
        Assert.Equal(2, result.Plan!.Summary.Records);
        Assert.Equal(["A", "D"], result.Plan.Findings.Select(f => f.Key));
        Assert.Equal(["PB4007", "PB4007"], result.Plan.Diagnostics.Select(d => d.Id));
        Assert.Equal([3, 4], result.Plan.Diagnostics.Select(d => d.Location.Line));
        Assert.All(result.Plan.Diagnostics, d => Assert.Equal(DiagnosticSeverity.Warning, d.Severity));
    }

    [Fact]
    public void Missing_column_is_reported_at_the_field_declaration()
    {
        using var workspace = new TempWorkspace();
        var (result, _) = PlanCsv(workspace, "id,x\nA,1\n", "    id: string\n    n: int");
        var error = Assert.Single(result.Diagnostics);
        Assert.Equal("PB4005", error.Id);
        Assert.EndsWith("p.yaml", error.Location.Path, StringComparison.Ordinal);
        Assert.Equal(9, error.Location.Line);
    }

    [Fact]
    public void Duplicate_keys_are_reported_with_both_rows()
    {
        using var workspace = new TempWorkspace();
        var (result, _) = PlanCsv(workspace, "id,n\nA,1\nB,2\nA,3\n", "    id: string\n    n: int");
        var error = Assert.Single(result.Diagnostics);
        Assert.Equal("PB4008", error.Id);
        Assert.Equal("Row 4: key 'A' already appeared at row 2", error.Message);
    }

    [Fact]
    public void Bom_crlf_and_blank_cells_in_nullable_fields_are_read()
    {
        using var workspace = new TempWorkspace();
        var data = "\uFEFFid,n,when,tags\r\nA,,2026-01-02T03:04:05,vip; key\r\nB,2,,\r\n";
        var (result, _) = PlanCsv(workspace, data, "    id: string\n    n: int?\n    when: datetime?\n    tags: string[]?");
        Assert.True(result.Success, string.Join("\n", result.Diagnostics.Select(d => d.Message)));
        Assert.Equal(["A", "B"], result.Plan!.Findings.Select(f => f.Key));
    }

    [Fact]
    public void Missing_data_file_is_a_located_error()
    {
        using var workspace = new TempWorkspace();
        var file = workspace.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: nope.csv, key: id, fields: { id: string } }\nrules:\n  - { id: r, when: \"true\" }\n");
        var result = TestEngine.Plan([file], DateTimeOffset.UnixEpoch);
        var error = Assert.Single(result.Diagnostics);
        Assert.Equal("PB4004", error.Id);
        Assert.Equal(2, error.Location.Line);
    }
}
