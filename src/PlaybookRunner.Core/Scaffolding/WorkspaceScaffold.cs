using System.Globalization;
using System.Text;

namespace PlaybookRunner.Core.Scaffolding;

/// <summary>
/// <c>playbook init</c>: a small workspace that validates, plans and passes its tests out of the box:
/// runner.yaml with a CSV source, one playbook, its tests, sample data dated around today, and the
/// JSON schemas the files' <c>yaml-language-server</c> comments point at.
/// </summary>
public static class WorkspaceScaffold
{
    /// <summary>The files to write, relative to the target folder, with their content.</summary>
    public static IReadOnlyList<(string Path, string Content)> Files(DateOnly today)
    {
        string Day(int daysAgo) => today.AddDays(-daysAgo).ToString(DateFormats.Date, CultureInfo.InvariantCulture);
        var csv = new StringBuilder("id,name,owner_email,revenue,nps,last_contact_at\n")
            .Append(CultureInfo.InvariantCulture, $"C-001,Northwind Traders,ann@example.com,420000,9,{Day(3)}\n")
            .Append(CultureInfo.InvariantCulture, $"C-002,Contoso Pharmaceuticals,raj@example.com,380000,6,{Day(41)}\n")
            .Append(CultureInfo.InvariantCulture, $"C-003,Fabrikam Logistics,ann@example.com,150000,8,{Day(12)}\n")
            .Append(CultureInfo.InvariantCulture, $"C-004,Tailspin Toys,maria@example.com,45000,,{Day(64)}\n")
            .Append(CultureInfo.InvariantCulture, $"C-005,Wide World Importers,raj@example.com,30000,4,\n")
            .Append(CultureInfo.InvariantCulture, $"C-006,Adventure Works,maria@example.com,12000,7,{Day(20)}\n")
            .ToString();
        return
        [
            ("playbooks/runner.yaml", Runner),
            ("playbooks/stay-in-touch.yaml", Playbook),
            ("playbooks/stay-in-touch.test.yaml", Tests),
            ("playbooks/data/customers.csv", csv),
            .. new[] { "playbook", "runner", "tests", "suppressions" }.Select(name => ($"schema/{name}.schema.json", Schema($"{name}.schema.json"))),
        ];
    }

    private static string Schema(string name)
    {
        using var stream = typeof(WorkspaceScaffold).Assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private const string Runner = """
        # yaml-language-server: $schema=../schema/runner.schema.json
        #
        # The workspace: where customer records come from, how actions reach people, and where
        # firing history is kept (a SQLite file beside this one). Paths are relative to this file.

        sources:
          customers:
            kind: csv
            path: data/customers.csv
            key: id
            fields:
              id: string
              name: string
              owner_email: string
              revenue: decimal              # annual revenue
              nps: int?                     # 0-10, blank when never answered
              last_contact_at: date?        # blank when never contacted

        # Email and webhook actions name a channel here, for example:
        # channels:
        #   default: { kind: smtp, host: smtp.example.com, port: 587, from: cs@example.com,
        #              username: "${env:SMTP_USER}", password: "${env:SMTP_PASSWORD}" }
        """;

    private const string Playbook = """
        # yaml-language-server: $schema=../schema/playbook.schema.json
        playbook: stay-in-touch
        title: Stay in touch with the customers who matter
        timezone: UTC
        schedule: "0 8 * * MON-FRI"       # for `playbook daemon`
        source: customers

        let:
          key_revenue: ParetoThreshold(c => c.revenue, 0.80)   # the few who bring 80% of revenue

        segments:
          key: revenue >= key_revenue

        rules:
          - id: no-contact-30d
            title: Key customer not contacted for 30 days
            severity: warning
            when: key && DaysSince(last_contact_at) > 30
            cooldown: 14d
            message: "{{ name }}: {{ if last_contact_at }}no contact for {{ days_since last_contact_at }} days{{ else }}no contact on record{{ end }}"
            actions:
              - type: file                # an outbox file; switch to email once a channel is set up
                path: outbox/tasks.jsonl
                body: "Call {{ name }} ({{ owner_email }})"

          - id: detractor
            title: Unhappy customer needs a call
            severity: critical
            when: nps <= 6
            cooldown: 30d
            message: "{{ name }} scored us {{ nps }} out of 10"
            actions:
              - type: file
                path: outbox/tasks.jsonl
                body: "Follow up with {{ name }} about their NPS of {{ nps }} ({{ owner_email }})"
        """;

    private const string Tests = """
        # yaml-language-server: $schema=../schema/tests.schema.json
        # Run with: playbook test
        tests:
          - name: A key customer without contact for six weeks gets a call, once a fortnight
            playbook: stay-in-touch
            as_of: 2026-03-02T09:00:00Z
            records:
              - { id: A, name: Acme, owner_email: ann@example.com, revenue: 900000, last_contact_at: 2026-01-20 }
              - { id: B, name: Tiny, owner_email: bob@example.com, revenue: 1000, last_contact_at: 2026-01-20 }
              - { id: C, name: Busy, owner_email: cat@example.com, revenue: 800000, last_contact_at: 2026-01-20 }
            history:
              - { rule: no-contact-30d, key: C, at: 2026-02-25T08:00:00Z }
            expect:
              - { rule: no-contact-30d, key: A, fires: true, message_contains: "no contact for 41 days",
                  actions: [ { type: file, body: "Call Acme (ann@example.com)" } ] }
              - { rule: no-contact-30d, key: B, fires: false }    # not a key customer
              - { rule: no-contact-30d, key: C, fires: false }    # called less than 14 days ago

          - name: Detractors get a follow-up, a blank score does not
            playbook: stay-in-touch
            as_of: 2026-03-02T09:00:00Z
            records:
              - { id: A, name: Acme, owner_email: ann@example.com, revenue: 900000, nps: 5 }
              - { id: B, name: Tiny, owner_email: bob@example.com, revenue: 1000 }
            expect:
              - { rule: detractor, key: A, fires: true, message_contains: "scored us 5 out of 10" }
              - { rule: detractor, key: B, fires: false }
        """;
}
