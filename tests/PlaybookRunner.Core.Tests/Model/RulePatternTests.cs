using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Tests.Model;

/// <summary>
/// Rule patterns in suppressions: <c>*</c> stands for any text in the playbook or the rule part, so "pause all outreach
/// to this customer" is one entry (<c>*/*</c>), and a chain of rules named alike is one more (<c>p/renewal-*</c>).
/// </summary>
public sealed class RulePatternTests
{
    private static readonly DateTimeOffset AsOf = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("p/r", "p", "r", true)]
    [InlineData("p/r", "p", "rr", false)]
    [InlineData("p/*", "p", "anything", true)]
    [InlineData("p/*", "q", "anything", false)]
    [InlineData("*/*", "any", "rule", true)]
    [InlineData("*/remind", "a", "remind", true)]
    [InlineData("*/remind", "a", "remind-again", false)]
    [InlineData("p/renewal-*", "p", "renewal-at-risk", true)]
    [InlineData("p/renewal-*", "p", "no-renewal", false)]
    [InlineData("p/*-30d", "p", "no-contact-30d", true)]
    [InlineData("p/*-30d", "p", "no-contact-30d-x", false)]
    [InlineData("p/a*b*c", "p", "abc", true)]
    [InlineData("p/a*b*c", "p", "axxbyyc", true)]
    [InlineData("p/a*b*c", "p", "acb", false)]
    [InlineData("p/ab*ba", "p", "aba", false)]
    [InlineData("k*/*", "key-client-care", "x", true)]
    public void A_star_stands_for_any_text_in_either_part(string pattern, string playbook, string rule, bool matches)
    {
        Assert.True(RuleRef.TryParse(pattern, out var parsed));
        Assert.Equal(matches, parsed.Matches(playbook, rule));
    }

    [Fact]
    public async Task Star_slash_star_pauses_every_rule_of_every_playbook_for_one_customer_and_a_prefix_pattern_a_chain()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("customers.csv", "id\nA\nB\n");
        workspace.Write("runner.yaml", "sources:\n  crm: { kind: csv, path: customers.csv, key: id, fields: { id: string } }\n");
        workspace.Write("p.yaml", "playbook: p\nsource: crm\nrules:\n  - { id: renewal-remind, when: \"true\" }\n  - { id: renewal-escalate, when: \"true\" }\n  - { id: review, when: \"true\" }\n");
        workspace.Write("q.yaml", "playbook: q\nsource: crm\nrules:\n  - { id: survey, when: \"true\" }\n");
        workspace.Write("suppressions.yaml", """
            suppressions:
              - { rule: "*/*", key: A, justification: Acquisition talks; pause all outreach }
              - { rule: "p/renewal-*", key: B, justification: Renewal signed early }
            """);

        var plan = (await TestEngine.PlanAsync([workspace.Root], AsOf)).Plan!;
        Assert.Empty(plan.Diagnostics);
        Assert.Equal(
            [("p/renewal-remind", "A", true), ("p/renewal-remind", "B", true), ("p/renewal-escalate", "A", true), ("p/renewal-escalate", "B", true),
             ("p/review", "A", true), ("p/review", "B", false), ("q/survey", "A", true), ("q/survey", "B", false)],
            plan.Findings.Select(f => ($"{f.Playbook}/{f.Rule}", f.Key, f.Suppressed)));
        Assert.Equal("Acquisition talks; pause all outreach", plan.Findings.First(f => f.Key == "A").Justification);
    }

    [Fact]
    public void A_pattern_that_names_no_rule_is_a_warning_and_one_outside_the_pattern_syntax_an_error()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("customers.csv", "id\nA\n");
        workspace.Write("runner.yaml", "sources:\n  crm: { kind: csv, path: customers.csv, key: id, fields: { id: string } }\n");
        workspace.Write("p.yaml", "playbook: p\nsource: crm\nrules:\n  - { id: review, when: \"true\" }\n");
        workspace.Write("suppressions.yaml", "suppressions:\n  - { rule: \"p/renewal-*\", justification: Nothing matches }\n");
        var nothing = TestEngine.Validate([workspace.Root]);
        Assert.Equal(["PB1026"], nothing.Diagnostics.Select(d => d.Id));
        Assert.Contains("'p/renewal-*', which is not a rule of any playbook here", nothing.Diagnostics[0].Message, StringComparison.Ordinal);

        workspace.Write("suppressions.yaml", "suppressions:\n  - { rule: \"p/re?iew\", justification: Not a pattern we know }\n");
        var bad = TestEngine.Validate([workspace.Root]);
        Assert.Contains(bad.Diagnostics, d => d.IsError && d.Location.Line == 2);
    }
}
