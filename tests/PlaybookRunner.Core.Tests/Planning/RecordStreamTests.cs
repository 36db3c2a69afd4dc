namespace PlaybookRunner.Core.Tests.Planning;

/// <summary>
/// A csv source streams through the evaluation; with let values a first pass keeps only the columns
/// they name. The plan must be what holding every record would give, errors included.
/// </summary>
public sealed class RecordStreamTests
{
    private static string Playbook(string badRow = "fail") => $$$"""
        playbook: p
        source: { kind: csv, path: data.csv, key: id, on_bad_row: {{{badRow}}}, fields: { id: string, spend: int, visits: int } }
        let:
          total: Sum(c => c.spend)
        rules:
          - id: big
            when: spend * 2 > total
            message: "{{ id }} spends {{ spend }} of {{ total }}"
        """;

    [Fact]
    public void A_bad_value_in_a_column_no_let_names_still_fails_the_plan_at_its_row()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", "id,spend,visits\nA,10,1\nB,90,many\nC,5,2\n");
        var file = workspace.Write("p.yaml", Playbook());
        var result = TestEngine.Plan([file], DateTimeOffset.UnixEpoch);
        Assert.Null(result.Plan);
        var error = Assert.Single(result.Diagnostics);
        Assert.Equal(("PB4006", 3, 3), (error.Id, error.Location.Line, error.Location.Column));
        Assert.StartsWith("Row 3, column 3 (visits): field 'visits' (int)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_value_in_a_let_column_is_reported_at_its_row_not_an_earlier_good_one()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", "id,spend,visits\nA,10,x\nB,lots,1\n");
        var file = workspace.Write("p.yaml", Playbook());
        var error = Assert.Single(TestEngine.Plan([file], DateTimeOffset.UnixEpoch).Diagnostics);
        // The first bad row in the file is row 2 (visits), although the let's own column goes bad only in row 3.
        Assert.Equal(("PB4006", 2, 3), (error.Id, error.Location.Line, error.Location.Column));
    }

    [Fact]
    public void Rows_skipped_for_any_column_are_left_out_of_the_let_population_too()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", "id,spend,visits\nA,10,1\nB,90,many\nC,5,2\n");
        var file = workspace.Write("p.yaml", Playbook(badRow: "skip"));
        var result = TestEngine.Plan([file], DateTimeOffset.UnixEpoch);
        var plan = result.Plan!;
        // B is skipped, so total = 15 and A (10 * 2 > 15) fires; had B counted, nobody would.
        Assert.Equal([("A", "A spends 10 of 15")], plan.Findings.Select(f => (f.Key, f.Message)));
        Assert.Equal(2, plan.Summary.Records);
        var warning = Assert.Single(plan.Diagnostics);
        Assert.Equal(("PB4007", 3), (warning.Id, warning.Location.Line));
    }

    [Fact]
    public void Two_playbooks_on_one_file_report_its_rows_and_warnings_once()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", "id,spend,visits\nA,10,1\nB,90,many\nC,5,2\n");
        workspace.Write("runner.yaml", "sources:\n  s: { kind: csv, path: data.csv, key: id, on_bad_row: skip, fields: { id: string, spend: int, visits: int } }\n");
        workspace.Write("p.yaml", "playbook: p\nsource: s\nrules:\n  - { id: r, when: spend > 6 }\n");
        workspace.Write("q.yaml", "playbook: q\nsource: s\nlet: { top: Max(c => c.spend) }\nrules:\n  - { id: r, when: spend == top }\n");
        var plan = TestEngine.Plan([workspace.Root], DateTimeOffset.UnixEpoch).Plan!;
        Assert.Equal([("p", "A"), ("q", "A")], plan.Findings.Select(f => (f.Playbook, f.Key)));
        Assert.Equal(2, plan.Summary.Records);
        Assert.Equal("PB4007", Assert.Single(plan.Diagnostics).Id);
    }

    [Fact]
    public void A_repeated_key_names_both_rows()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", "id,spend,visits\nA,10,1\nB,90,3\nA,5,2\n");
        var file = workspace.Write("p.yaml", Playbook());
        var error = Assert.Single(TestEngine.Plan([file], DateTimeOffset.UnixEpoch).Diagnostics);
        Assert.Equal(("PB4008", 4), (error.Id, error.Location.Line));
        Assert.Contains("row 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_repeated_key_before_a_bad_row_is_the_error_reported()
    {
        using var workspace = new TempWorkspace();
        // Keys are checked when the read ends or fails: the repeat in row 3 comes before the bad value in row 4.
        workspace.Write("data.csv", "id,spend,visits\nA,10,1\nA,90,3\nC,5,many\n");
        var file = workspace.Write("p.yaml", Playbook());
        var error = Assert.Single(TestEngine.Plan([file], DateTimeOffset.UnixEpoch).Diagnostics);
        Assert.Equal(("PB4008", 3, "Row 3: key 'A' already appeared at row 2"), (error.Id, error.Location.Line, error.Message));
    }

    [Fact]
    public void A_skipped_row_does_not_make_a_later_row_with_its_key_a_duplicate()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", "id,spend,visits\nA,10,1\nB,90,many\nB,5,2\nA,7,2\n");
        var file = workspace.Write("p.yaml", Playbook(badRow: "skip"));
        var result = TestEngine.Plan([file], DateTimeOffset.UnixEpoch);
        // Row 3 (B) is skipped, so row 4's B is the first B kept; row 5 repeats A from row 2.
        var error = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.Equal(("PB4008", 5, "Row 5: key 'A' already appeared at row 2"), (error.Id, error.Location.Line, error.Message));
        Assert.Equal("PB4007", Assert.Single(result.Diagnostics, d => !d.IsError).Id);
    }

    [Fact]
    public void Let_columns_of_every_kind_are_read_typed()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("data.csv", "id,name,active,since,score,tags,level\nA,Acme,yes,2025-01-02,,vip;key,1.5\nB,,true,2024-06-30,3,x,2\nC,Co,no,2026-01-01,,vip,\n");
        var file = workspace.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: data.csv, key: id, fields: { id: string, name: string?, active: bool, since: date, score: int?, tags: "string[]", level: "double?" } }
            let:
              n: Count(c => c.active && c.name != null && c.tags.Length > 0 && c.score == null && c.since.Year == 2025 && c.level > 1)
              first: Min(c => c.since)
            rules:
              - { id: r, when: 'n == 1 && first == since' }
            """);
        var plan = TestEngine.Plan([file], DateTimeOffset.UnixEpoch).Plan!;
        Assert.Equal(["B"], plan.Findings.Select(f => f.Key));
    }

    [Fact]
    public void A_repeated_key_is_reported_even_when_the_budget_stops_the_evaluation_first()
    {
        using var workspace = new TempWorkspace();
        // Far more rows than the buffer holds: when the budget stops the evaluation, the reader is cancelled mid-file.
        workspace.Write("data.csv", "id,spend,visits\nA,1,1\nA,2,2\n" + string.Concat(Enumerable.Range(0, 20_000).Select(i => $"C{i},3,{i % 7}\n")));
        workspace.Write("runner.yaml", "execution: { evaluation_budget_ms: 50 }\n");
        var file = workspace.Write("p.yaml", Playbook().Replace("spend * 2 > total", "Enumerable.Range(0, 100000).Count(i => i % 7 == visits) > total", StringComparison.Ordinal));
        var result = TestEngine.Plan([file], DateTimeOffset.UnixEpoch);
        Assert.Null(result.Plan);
        var error = Assert.Single(result.Diagnostics);
        Assert.Equal(("PB4008", 3, "Row 3: key 'A' already appeared at row 2"), (error.Id, error.Location.Line, error.Message));
    }
}
