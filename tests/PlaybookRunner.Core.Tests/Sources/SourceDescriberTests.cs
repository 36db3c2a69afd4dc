using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Core.Tests.Sources;

public sealed class SourceDescriberTests
{
    [TelcoFact]
    public void Describes_the_telco_data_with_inferred_types_and_column_mappings()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("runner.yaml", $"sources:\n  telco:\n    kind: csv\n    path: \"{TestPaths.TelcoCsv}\"\n    key: id\n    fields: {{ id: {{ type: string, column: customerID }} }}\n");
        var (text, diagnostics) = TestEngine.DescribeSource([workspace.Root], "telco");
        Assert.Empty(diagnostics);
        var lines = text!.Split('\n');
        Assert.Equal($"Source telco: kind csv, key id, path {TestPaths.TelcoCsv}", lines[0]);
        Assert.Contains("  id  string      column customerID", lines);
        Assert.Contains("Inferred from the first 1000 record(s):", lines);
        Assert.Contains("  customer_id: { type: string, column: customerID }", lines);
        Assert.Contains("  senior_citizen: { type: int, column: SeniorCitizen }", lines);
        Assert.Contains("  partner: { type: bool, column: Partner }", lines);
        Assert.Contains("  tenure: int", lines);
        Assert.Contains("  monthly_charges: { type: decimal, column: MonthlyCharges }", lines);
        Assert.Contains("  total_charges: { type: decimal?, column: TotalCharges }", lines);
    }

    [Fact]
    public void Unknown_source_names_the_known_ones()
    {
        var (text, diagnostics) = TestEngine.DescribeSource([TestPaths.Playbooks], "crn");
        Assert.Null(text);
        var error = Assert.Single(diagnostics);
        Assert.Equal(("PB4001", "Source 'crn' is not defined in runner.yaml (known: crm, tickets)"), (error.Id, error.Message));
    }

    [Theory]
    [InlineData("string?", new string?[] { "", " " })]
    [InlineData("int?", new string?[] { "1", "", "-3" })]
    [InlineData("long", new string?[] { "1", "99999999999" })]
    [InlineData("decimal", new string?[] { "1", "2.5" })]
    [InlineData("date", new string?[] { "2026-01-02" })]
    [InlineData("datetime", new string?[] { "2026-01-02T03:04:05", "2026-01-02" })]
    [InlineData("bool", new string?[] { "Yes", "no" })]
    [InlineData("int", new string?[] { "0", "1" })]
    [InlineData("string[]", new string?[] { "vip;key", "x" })]
    [InlineData("string", new string?[] { "x", "2" })]
    public void Infers_the_narrowest_type(string expected, string?[] values) => Assert.Equal(expected, SourceDescriber.Infer(values));

    [Theory]
    [InlineData("customerID", "customer_id")]
    [InlineData("TotalCharges", "total_charges")]
    [InlineData("last contact (UTC)", "last_contact_utc")]
    [InlineData("2fa", "f_2fa")]
    [InlineData("NPS", "nps")]
    public void Column_names_become_identifiers(string column, string expected) => Assert.Equal(expected, SourceDescriber.Identifier(column));
}
