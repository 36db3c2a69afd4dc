namespace PlaybookRunner.Core.Tests.Testing;

/// <summary>
/// <c>*.test.yaml</c> records that carry related records (a <c>related:</c> list of the source by name), so that rules
/// built on related data are tested like any other; a related record that is not one is a failure at its position.
/// </summary>
public sealed class RelatedDataTestTests
{
    private const string Runner = """
        sources:
          crm:
            kind: csv
            path: c.csv
            key: id
            fields: { id: string, name: string }
            related: { tickets: { source: tickets, key: customer_id } }
          tickets:
            kind: csv
            path: t.csv
            key: ticket_id
            fields: { ticket_id: string, customer_id: string, open: bool, opened_at: date }
        """;

    private const string Playbook = """
        playbook: p
        source: crm
        values:
          open_count: tickets.Count(t => t.open)
        rules:
          - id: pileup
            when: open_count >= 2
            message: "{{ name }}: {{ open_count }} open, oldest {{ tickets | array.map 'opened_at' | array.sort | array.first | date.to_string '%Y-%m-%d' }}"
        """;

    [Fact]
    public async Task Records_carry_their_related_records_and_the_join_field_is_filled_with_the_records_key()
    {
        using var workspace = Workspace("""
            tests:
              - name: Two open tickets pile up, one does not
                playbook: p
                as_of: 2026-03-02T09:00:00Z
                records:
                  - id: A
                    name: Acme
                    tickets:
                      - { ticket_id: T1, open: true, opened_at: 2026-02-20 }
                      - { ticket_id: T2, open: true, opened_at: 2026-02-10 }
                      - { ticket_id: T3, open: false, opened_at: 2026-01-05 }
                  - id: B
                    name: Beta
                    tickets:
                      - { ticket_id: T4, customer_id: B, open: true, opened_at: 2026-02-25 }
                  - { id: C, name: Calm }
                expect:
                  - { rule: pileup, key: A, fires: true, message_contains: "Acme: 2 open, oldest 2026-01-05" }
                  - { rule: pileup, key: B, fires: false }
                  - { rule: pileup, key: C, fires: false }
            """);
        var result = await TestEngine.TestAsync([workspace.Root]);
        Assert.True(result.Success, string.Join("\n", result.Tests.SelectMany(t => t.Failures).Concat(result.Diagnostics).Select(d => d.Message)));
        Assert.Empty(result.UncoveredRules);
    }

    [Fact]
    public async Task A_related_record_with_an_unknown_field_or_a_related_list_that_is_not_a_list_fails_at_its_position()
    {
        using var workspace = Workspace("""
            tests:
              - name: Broken related data
                playbook: p
                as_of: 2026-03-02T09:00:00Z
                records:
                  - id: A
                    name: Acme
                    tickets:
                      - { ticket_id: T1, open: true, opened_at: 2026-02-20, priority: high }
                  - { id: B, name: Beta, tickets: none }
                expect:
                  - { rule: pileup, key: A, fires: false }
            """);
        var result = await TestEngine.TestAsync([workspace.Root]);
        var failures = result.Tests.Single().Failures;
        Assert.Equal(
            [(9, 65, "Test 'Broken related data', record 1, tickets 1: 'priority' is not a field of source 'tickets' (fields: ticket_id, customer_id, open, opened_at)"),
             (10, 39, "Test 'Broken related data', record 2: related list 'tickets' must be a list of records of source 'tickets'")],
            failures.Select(f => (f.Location.Line, f.Location.Column, f.Message)));
    }

    [Fact]
    public async Task Related_sources_given_once_per_test_are_joined_to_the_records_by_their_key()
    {
        using var workspace = Workspace("""
            tests:
              - name: Tickets given as one table
                playbook: p
                as_of: 2026-03-02T09:00:00Z
                sources:
                  tickets:
                    - { ticket_id: T1, customer_id: A, open: true, opened_at: 2026-02-20 }
                    - { ticket_id: T2, customer_id: A, open: true, opened_at: 2026-02-10 }
                    - { ticket_id: T3, customer_id: B, open: true, opened_at: 2026-02-25 }
                records:
                  - id: A
                    name: Acme
                  - id: B
                    name: Beta
                    tickets:
                      - { ticket_id: T4, open: true, opened_at: 2026-02-26 }
                expect:
                  - { rule: pileup, key: A, fires: true, message_contains: "Acme: 2 open, oldest 2026-02-10" }
                  - { rule: pileup, key: B, fires: true, message_contains: "Beta: 2 open, oldest 2026-02-25" }
            """);
        var result = await TestEngine.TestAsync([workspace.Root]);
        Assert.True(result.Success, string.Join("\n", result.Tests.SelectMany(t => t.Failures).Concat(result.Diagnostics).Select(d => d.Message)));
    }

    [Fact]
    public async Task A_test_source_that_is_not_related_or_without_its_join_field_fails_at_its_position()
    {
        using var workspace = Workspace("""
            tests:
              - name: Broken sources
                playbook: p
                as_of: 2026-03-02T09:00:00Z
                sources:
                  crm: []
                  tickets:
                    - { ticket_id: T1, open: true, opened_at: 2026-02-20 }
                records:
                  - { id: A, name: Acme }
                expect:
                  - { rule: pileup, key: A, fires: false }
            """);
        var result = await TestEngine.TestAsync([workspace.Root]);
        Assert.Equal(
            [(6, 7, "Test 'Broken sources': 'crm' is not a related source of source 'crm' (its related sources: tickets)"),
             (8, 11, "Test 'Broken sources', source 'tickets' record 1: field 'customer_id' (string) is missing")],
            result.Tests.Single().Failures.Select(f => (f.Location.Line, f.Location.Column, f.Message)));
    }

    [Fact]
    public async Task A_test_source_that_is_not_a_list_of_records_is_refused_by_the_schema_at_its_position()
    {
        using var workspace = Workspace("""
            tests:
              - name: Not a list
                playbook: p
                as_of: 2026-03-02T09:00:00Z
                sources: { tickets: none }
                records:
                  - { id: A, name: Acme }
                expect:
                  - { rule: pileup, key: A, fires: false }
            """);
        var result = await TestEngine.TestAsync([workspace.Root]);
        var error = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.Equal((5, 25, "Expected a list for tests[0].sources.tickets but found text"), (error.Location.Line, error.Location.Column, error.Message));
    }

    private static TempWorkspace Workspace(string tests)
    {
        var workspace = new TempWorkspace();
        workspace.Write("c.csv", "id,name\n");
        workspace.Write("t.csv", "ticket_id,customer_id,open,opened_at\n");
        workspace.Write("runner.yaml", Runner);
        workspace.Write("p.yaml", Playbook);
        workspace.Write("p.test.yaml", tests);
        return workspace;
    }
}
