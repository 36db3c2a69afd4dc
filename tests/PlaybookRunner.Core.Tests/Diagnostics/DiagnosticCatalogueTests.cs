using System.Text.Json;
using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Core.Tests.Diagnostics;

public sealed class DiagnosticCatalogueTests
{
    [Fact]
    public void Ids_are_unique_and_well_formed()
    {
        var ids = DiagnosticDescriptors.All.Select(d => d.Id).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(DiagnosticDescriptors.All, d =>
        {
            Assert.Matches("^PB[0-6][0-9]{3}$", d.Id);
            Assert.False(d.MessageFormat.EndsWith('.'), d.Id);
        });
    }

    [Fact]
    public void Docs_list_every_diagnostic_with_its_title()
    {
        var docs = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "diagnostics.md"));
        foreach (var d in DiagnosticDescriptors.All)
        {
            Assert.Contains($"| {d.Id} | {d.Title} |", docs, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Text_form_is_the_msbuild_form()
    {
        var d = Diagnostic.Create(DiagnosticDescriptors.UnknownKey, new SourceLocation("/w/playbooks/a.yaml", 12, 9, 12, 12), "wen", "rules[0]", "; did you mean 'when'?");
        Assert.Equal("playbooks/a.yaml(12,9): error PB1002: Unknown key 'wen' in rules[0]; did you mean 'when'?", DiagnosticFormatter.FormatText(d, "/w"));
    }

    [Fact]
    public void Sarif_has_rules_and_one_based_regions()
    {
        var d = Diagnostic.Create(DiagnosticDescriptors.UnknownKey, new SourceLocation("/w/playbooks/a b.yaml", 12, 9, 12, 12), "wen", "rules[0]", "");
        var sarif = JsonDocument.Parse(DiagnosticFormatter.WriteSarif([d], "/w", "1.2.3")).RootElement;
        Assert.Equal("2.1.0", sarif.GetProperty("version").GetString());
        var run = sarif.GetProperty("runs")[0];
        var driver = run.GetProperty("tool").GetProperty("driver");
        Assert.Equal(("PlaybookRunner", "1.2.3"), (driver.GetProperty("name").GetString(), driver.GetProperty("version").GetString()));
        Assert.Equal(DiagnosticDescriptors.All.Count, driver.GetProperty("rules").GetArrayLength());
        var rule = driver.GetProperty("rules")[run.GetProperty("results")[0].GetProperty("ruleIndex").GetInt32()];
        Assert.Equal("PB1002", rule.GetProperty("id").GetString());
        Assert.Equal("Unknown key", rule.GetProperty("shortDescription").GetProperty("text").GetString());
        var result = run.GetProperty("results")[0];
        Assert.Equal(("PB1002", "error"), (result.GetProperty("ruleId").GetString(), result.GetProperty("level").GetString()));
        var location = result.GetProperty("locations")[0].GetProperty("physicalLocation");
        Assert.Equal("playbooks/a%20b.yaml", location.GetProperty("artifactLocation").GetProperty("uri").GetString());
        var region = location.GetProperty("region");
        Assert.Equal((12, 9, 12, 12), (region.GetProperty("startLine").GetInt32(), region.GetProperty("startColumn").GetInt32(), region.GetProperty("endLine").GetInt32(), region.GetProperty("endColumn").GetInt32()));
    }
}

/// <summary>Regenerates the catalogue table in docs/diagnostics.md (runs first in update mode).</summary>
public sealed class DiagnosticCatalogueWriter
{
    [Fact]
    public void Catalogue_table_is_current()
    {
        var path = Path.Combine(TestPaths.RepoRoot, "docs", "diagnostics.md");
        var text = File.ReadAllText(path);
        const string start = "<!-- catalogue:start (generated from DiagnosticDescriptors.cs by PLAYBOOK_UPDATE_GOLDEN=1 dotnet test) -->\n";
        const string end = "<!-- catalogue:end -->";
        var table = new System.Text.StringBuilder("| ID | Title | Severity | Message | What to do |\n|---|---|---|---|---|\n");
        foreach (var d in DiagnosticDescriptors.All)
        {
            table.Append($"| {d.Id} | {d.Title} | {DiagnosticFormatter.SeverityName(d.DefaultSeverity)} | `{d.MessageFormat.Replace("|", "\\|", StringComparison.Ordinal)}` | {d.Help.Replace("|", "\\|", StringComparison.Ordinal)} |\n");
        }

        var i = text.IndexOf(start, StringComparison.Ordinal) + start.Length;
        var j = text.IndexOf(end, StringComparison.Ordinal);
        var updated = string.Concat(text.AsSpan(0, i), table.ToString(), text.AsSpan(j));
        if (TestPaths.UpdateGoldens)
        {
            File.WriteAllText(path, updated);
            return;
        }

        Assert.Equal(updated, text);
    }
}
