namespace PlaybookRunner.Core.Tests.Loading;

/// <summary>
/// validate reports every independent error in one pass, each at its cause: a schema error in one file hides
/// no C#, template, cron or time-zone error elsewhere, and a broken source or channel in runner.yaml is one
/// error, not one per playbook that uses it.
/// </summary>
public sealed class OnePassTests
{
    [Fact]
    public void Seven_planted_mistakes_in_six_files_are_all_reported_by_one_validate_and_nothing_else()
    {
        using var workspace = new TempWorkspace();
        workspace.Write("d.csv", "id,tickets,owner\nA,5,x\n");
        workspace.Write("runner.yaml", """
            sources:
              crm: { kind: csv, path: d.csv, key: id, fields: { id: string, tickets: int, owner: strng } }
              other: { kind: csv, path: d.csv, key: id, fields: { id: string, tickets: int } }
              broken: { kind: csv, key: id, fields: { id: string } }
            channels:
              hook: { kind: webhok, url: "http://127.0.0.1:9/x" }
            """);
        workspace.Write("schema.yaml", "playbook: schema\nsource: other\nrules:\n  - id: r\n    whn: tickets > 3\n");
        workspace.Write("csharp.yaml", "playbook: csharp\nsource: other\nrules:\n  - id: r\n    when: tickts > 3\n");
        workspace.Write("template.yaml", "playbook: template\nsource: other\nrules:\n  - id: r\n    when: tickets > 3\n    message: \"{{ rule.titel }}\"\n");
        workspace.Write("cron.yaml", "playbook: cron\nsource: other\nschedule: \"0 9 * * MON-FRU\"\ntimezone: Europe/Londn\nrules:\n  - id: r\n    when: tickets > 3\n    actions: [ { type: webhook, channel: hook, body: \"{}\" } ]\n");
        workspace.Write("uses-broken.yaml", "playbook: uses-broken\nsource: broken\nrules:\n  - id: r\n    when: id == \"A\"\n");

        var diagnostics = TestEngine.Validate([workspace.Root]).Diagnostics;

        var lines = diagnostics.Select(d => $"{Path.GetFileName(d.Location.Path)}({d.Location.Line}) {d.Id}: {d.Message}").ToList();
        Assert.Collection(
            lines,
            l => Assert.StartsWith("cron.yaml(3) PB1012: '0 9 * * MON-FRU' is not a valid cron expression: field 5 (day of week) 'MON-FRU'", l, StringComparison.Ordinal),
            l => Assert.Equal("cron.yaml(4) PB1013: 'Europe/Londn' is not a known IANA time zone; did you mean 'Europe/London'?", l),
            l => Assert.Equal("csharp.yaml(5) PB2001: CS0103: 'tickts' is not a field, related list, let value, computed value, segment or helper of playbook 'csharp'; did you mean 'tickets'?", l),
            l => Assert.StartsWith("runner.yaml(2) PB1005: 'strng' is not a valid sources.crm.fields.owner", l, StringComparison.Ordinal),
            l => Assert.StartsWith("runner.yaml(4) PB1003: Missing required key 'path'", l, StringComparison.Ordinal),
            l => Assert.StartsWith("runner.yaml(6) PB1006: 'webhok' is not allowed for channels.hook.kind; expected one of: smtp, webhook; did you mean 'webhook'?", l, StringComparison.Ordinal),
            l => Assert.StartsWith("schema.yaml(4) PB1003: Missing required key 'when' in rules[0]", l, StringComparison.Ordinal),
            l => Assert.Equal("schema.yaml(5) PB1002: Unknown key 'whn' in rules[0]; did you mean 'when'?", l),
            l => Assert.Equal("template.yaml(6) PB3003: 'rule' has no member 'titel'; did you mean 'title'?", l));
    }
}
