namespace PlaybookRunner.Core.Tests.Testing;

/// <summary>
/// <c>*.test.yaml</c> for the rule lifecycle: history gives holds (<c>held_since</c>) and firings (<c>at</c>), and
/// <c>resolves:</c> expects a rule's <c>on_resolve</c>; a failing expectation says why, and an incomplete entry is PB6006.
/// </summary>
public sealed class LifecycleTestTests
{
    private const string Playbook = """
        playbook: p
        source: crm
        rules:
          - id: pileup
            when: open > 3
            for: 2d
            message: "{{ id }}: {{ open }} open"
            on_resolve:
              message: "{{ id }} back to {{ open }} (raised {{ last_fired | date.to_string '%d %b' }})"
              actions: [ { type: file, path: out.jsonl, body: "close {{ id }}" } ]
        """;

    [Fact]
    public async Task Holds_and_firings_in_history_make_a_rule_wait_fire_and_resolve()
    {
        using var workspace = Workspace("""
            tests:
              - name: lifecycle
                playbook: p
                as_of: 2026-03-05T09:00:00Z
                records:
                  - { id: A, open: 5 }
                  - { id: B, open: 5 }
                  - { id: C, open: 1 }
                  - { id: D, open: 1 }
                history:
                  - { rule: pileup, key: A, held_since: 2026-03-01T09:00:00Z }
                  - { rule: pileup, key: B, held_since: 2026-03-04T09:00:00Z }
                  - { rule: pileup, key: C, at: 2026-03-02T09:00:00Z }
                  - { rule: pileup, key: D, held_since: 2026-03-01T09:00:00Z }
                expect:
                  - { rule: pileup, key: A, fires: true, message_contains: "A: 5 open" }
                  - { rule: pileup, key: B, fires: false }
                  - { rule: pileup, key: C, resolves: true, message_contains: "C back to 1 (raised 02 Mar)",
                      actions: [ { type: file, body: close C } ] }
                  - { rule: pileup, key: D, resolves: false }
            """);
        var result = await TestEngine.TestAsync([workspace.Root]);
        Assert.True(result.Success, string.Join("\n", result.Tests.SelectMany(t => t.Failures).Concat(result.Diagnostics).Select(d => d.Message)));
    }

    [Fact]
    public async Task A_failing_expectation_says_the_rule_is_waiting_or_why_it_does_not_resolve()
    {
        using var workspace = Workspace("""
            tests:
              - name: wrong
                playbook: p
                as_of: 2026-03-05T09:00:00Z
                records:
                  - { id: A, open: 5 }
                  - { id: B, open: 1 }
                  - { id: C, open: 5 }
                history:
                  - { rule: pileup, key: A, held_since: 2026-03-04T09:00:00Z }
                  - { rule: pileup, key: C, at: 2026-03-02T09:00:00Z }
                expect:
                  - { rule: pileup, key: A, fires: true }
                  - { rule: pileup, key: B, resolves: true }
                  - { rule: pileup, key: C, resolves: true }
                  - { rule: pileup, key: C, fires: false }
            """);
        var result = await TestEngine.TestAsync([workspace.Root]);
        Assert.Equal(
            [
                "Test 'wrong': rule pileup for key A: expected fires: true, but it is waiting: its condition holds since 2026-03-04T09:00:00+00:00, and fires 2026-03-06T09:00:00+00:00 if it still holds (for:)",
                "Test 'wrong': rule pileup for key B: expected resolves: true, but it does not: the rule did not fire during a hold of its condition (give the firing in history: with at:)",
                "Test 'wrong': rule pileup for key C: expected resolves: true, but it does not: the condition still holds",
                "Test 'wrong': rule pileup for key C: expected fires: false, but it fires (message: C: 5 open)",
            ],
            result.Tests.Single().Failures.Select(f => f.Message));
    }

    [Fact]
    public async Task An_expectation_with_both_fires_and_resolves_or_neither_and_a_history_entry_without_a_time_are_PB6006()
    {
        using var workspace = Workspace("""
            tests:
              - name: incomplete
                playbook: p
                as_of: 2026-03-05T09:00:00Z
                records:
                  - { id: A, open: 5 }
                history:
                  - { rule: pileup, key: A }
                expect:
                  - { rule: pileup, key: A, fires: true, resolves: false }
                  - { rule: pileup, key: A }
            """);
        var result = await TestEngine.TestAsync([workspace.Root]);
        Assert.False(result.Success);
        Assert.Equal(
            [
                ("PB6006", 8, 9, "a history entry needs at (when the rule fired), held_since (since when its condition has held), or both"),
                ("PB6006", 10, 9, "an expectation gives exactly one of fires (the rule fires) and resolves (its on_resolve runs)"),
                ("PB6006", 11, 9, "an expectation gives exactly one of fires (the rule fires) and resolves (its on_resolve runs)"),
            ],
            result.Diagnostics.Where(d => d.Id == "PB6006").Select(d => (d.Id, d.Location.Line, d.Location.Column, d.Message)));
    }

    private static TempWorkspace Workspace(string tests)
    {
        var workspace = new TempWorkspace();
        workspace.Write("c.csv", "id,open\n");
        workspace.Write("runner.yaml", "sources:\n  crm: { kind: csv, path: c.csv, key: id, fields: { id: string, open: int } }\n");
        workspace.Write("p.yaml", Playbook);
        workspace.Write("p.test.yaml", tests);
        return workspace;
    }
}
