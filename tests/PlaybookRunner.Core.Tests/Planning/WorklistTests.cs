using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Core.Tests.Planning;

/// <summary>
/// The plan as a worklist (runner.yaml <c>report:</c>): grouped by owner, critical first, then <c>sort_by</c> (missing last);
/// the Markdown report's per-owner table and headings, and baseline changes marked on the findings themselves.
/// </summary>
public sealed class WorklistTests
{
    private static readonly DateTimeOffset Day1 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private static string Workspace(TempWorkspace workspace, string data)
    {
        workspace.Write("d.csv", data);
        workspace.Write("runner.yaml", """
            sources:
              crm: { kind: csv, path: d.csv, key: id, fields: { id: string, owner: string?, revenue: int?, risky: bool } }
            report: { owner: owner, sort_by: revenue desc }
            """);
        return workspace.Write("p.yaml", """
            playbook: p
            source: crm
            rules:
              - id: check-in
                severity: info
                when: "true"
                message: "check in with {{ id }}"
              - id: at-risk
                severity: critical
                when: risky
                message: "{{ id }} at risk"
            """);
    }

    [Fact]
    public async Task Findings_are_grouped_by_owner_critical_first_then_by_sort_by_with_missing_values_and_owners_last()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, "id,owner,revenue,risky\nA,ann,100,false\nB,ann,900,false\nC,ann,,true\nD,bob,50,false\nE,,70,false\nF,ann,,false\n");
        var plan = (await TestEngine.PlanAsync([file], Day1)).Plan!;
        var view = new PlanView(plan, workspace.Root);

        Assert.Equal(["ann", "bob", null], view.Worklist.Select(o => o.Owner));
        Assert.Equal(["at-risk C", "check-in B", "check-in A", "check-in C", "check-in F"], view.Worklist[0].Findings.Select(f => $"{f.Rule} {f.Key}"));
        Assert.Equal((1, 0, 4, 0), (view.Worklist[0].Count(Core.Model.Severity.Critical), view.Worklist[0].Count(Core.Model.Severity.Warning), view.Worklist[0].Count(Core.Model.Severity.Info), view.Worklist[0].ActionsPending));

        var json = PlanDocument.Write(plan, workspace.Root);
        var read = PlanDocument.Read(System.Text.Json.JsonDocument.Parse(json).RootElement);
        Assert.Equal(("ann", "900"), (read.Findings.First(f => f.Key == "B").Owner, read.Findings.First(f => f.Key == "B").SortValue));
        Assert.Equal(plan.Report, read.Report);

        var md = PlanWriter.WriteMarkdown(view);
        Assert.Contains("| Owner | Findings | Critical | Warning | Info | Actions pending |\n|---|---:|---:|---:|---:|---:|\n| ann | 5 | 1 | 0 | 4 | 0 |\n| bob | 1 | 0 | 0 | 1 | 0 |\n| \\(no owner\\) | 1 | 0 | 0 | 1 | 0 |", md, StringComparison.Ordinal);
        Assert.True(md.IndexOf("#### ann", StringComparison.Ordinal) < md.IndexOf("#### bob", StringComparison.Ordinal));
        Assert.True(md.IndexOf("<code>C</code> · critical", StringComparison.Ordinal) < md.IndexOf("<code>B</code> · info", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("<img src=x onerror=alert(1)>")]
    [InlineData("\"><script>alert(1)</script>")]
    [InlineData("@everyone https://evil.example #1")]
    [InlineData("| a | b |")]
    public async Task An_owner_from_the_data_is_text_in_both_reports(string owner)
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, $"id,owner,revenue,risky\nA,\"{owner.Replace("\"", "\"\"", StringComparison.Ordinal)}\",100,true\n");
        var view = new PlanView((await TestEngine.PlanAsync([file], Day1)).Plan!, workspace.Root);
        Assert.Equal(owner, view.Worklist.Single().Owner);

        var html = PlanWriter.WriteHtml(view);
        Assert.DoesNotContain("<img src=x", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>alert", html, StringComparison.Ordinal);
        Assert.DoesNotContain("\"><script", html, StringComparison.Ordinal);
        Assert.Contains($"data-owner=\"{System.Net.WebUtility.HtmlEncode(owner)}\"", html, StringComparison.Ordinal);

        // Markdown: no mention, link, issue reference or extra table cell: the owner row keeps its six cells.
        var md = PlanWriter.WriteMarkdown(view);
        foreach (var live in new[] { "<img", "<script", "@everyone", "https://evil", "#1" })
        {
            Assert.DoesNotContain(live, md, StringComparison.Ordinal);
        }

        var lines = md.Split('\n').ToList();
        var row = lines[lines.FindIndex(l => l.StartsWith("| Owner |", StringComparison.Ordinal)) + 2];
        Assert.Equal(7, System.Text.RegularExpressions.Regex.Count(row, @"(?<!\\)\|"));
    }

    [Fact]
    public async Task With_a_baseline_new_and_changed_findings_are_marked_where_they_are_and_gone_ones_listed_after()
    {
        using var workspace = new TempWorkspace();
        var file = Workspace(workspace, "id,owner,revenue,risky\nA,ann,100,false\nB,ann,900,true\n");
        var baseline = (await TestEngine.PlanAsync([file], Day1)).Plan!;
        workspace.Write("p.yaml", File.ReadAllText(file).Replace("check in with {{ id }}", "call {{ id }}", StringComparison.Ordinal));
        workspace.Write("d.csv", "id,owner,revenue,risky\nA,ann,100,false\nB,ann,900,false\nG,ann,10,true\n");
        var plan = (await TestEngine.PlanAsync([file], Day1)).Plan!;
        var view = new PlanView(plan, workspace.Root, PlanDiff.Compare(baseline, plan));

        var md = PlanWriter.WriteMarkdown(view);
        Assert.Contains(": 2 new and 2 changed (marked on the findings), 1 gone (listed at the end).", md, StringComparison.Ordinal);
        Assert.Contains("<details><summary>**new** · <b>p/at-risk</b> · <code>G</code>", md, StringComparison.Ordinal);
        Assert.Contains("<details><summary>**changed** · <b>p/check-in</b> · <code>A</code>", md, StringComparison.Ordinal);
        Assert.Contains("- changed `message`: `\"check in with A\"` → `\"call A\"`", md, StringComparison.Ordinal);
        Assert.Contains("### Gone since the baseline (1)\n\n- :heavy_minus_sign: `p/at-risk B`", md, StringComparison.Ordinal);
        Assert.DoesNotContain("### Changes against the baseline", md, StringComparison.Ordinal);
    }
}
