namespace PlaybookRunner.Tests.Cli;

/// <summary>A workspace whose customers' keys and names attack the outputs (reports, terminals, CI logs).</summary>
internal static class HostileWorkspace
{
    /// <summary>
    /// Each row is one customer whose key or name attacks another output. A key cannot hold a control
    /// character (that is a data error, KeyControlCharacterTests), so the keys attack with a bidi override
    /// and a workflow command after a space; the names carry the control characters.
    /// </summary>
    public static readonly string[] Names =
    [
        "[click me](https://evil.example/phish) ![pixel](https://evil.example/p.png) <https://evil.example/a>",
        "@octocat #1 www.evil.example https://evil.example/b mail@evil.example",
        "<img src=x onerror=alert(1)><b>bold</b><!-- comment --> &amp; &#64;",
        "| forged | cell | ` code ``` fence ~~~ **strong** _em_",
        "first\n::error file=p.yaml,line=1::forged\nplaybooks/p.yaml(1,1): error PB0000: forged",
        "\u001b[2J\u001b]8;;https://evil.example\u0007link\u001b]8;;\u0007 \u009b31m \u202Egnp.exe",
    ];

    private static string Csv() =>
        "id,name,n\n" + string.Concat(Names.Select((name, i) => $"\"K{i}{(i == 5 ? "\u202Egnp" : i == 4 ? " ::warning::k" : "")}\",\"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\",5\n"));

    public static string Create(TempDir dir)
    {
        dir.Write("d.csv", Csv());
        dir.Write("runner.yaml", "channels:\n  default: { kind: smtp, host: 127.0.0.1, port: 1, from: cs@example.com, tls: none }\nexecution: { max_attempts: 1 }\n");
        dir.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, name: string, n: int } }
            rules:
              - id: r
                when: n > 3
                message: "{{ name }} needs a call"
                actions:
                  - { type: file, path: out.jsonl, body: "Call {{ name }}" }
                  - { type: email, to: cs@example.com, subject: "Call", body: "Call {{ name }}" }
            """);
        return dir.Root;
    }
}
