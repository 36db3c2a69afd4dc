using System.Diagnostics;
using System.Text;
using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Core.Tests.Reliability;

/// <summary>
/// Malformed playbooks, runner files and test files from a seeded generator (truncated YAML, deleted and
/// duplicated lines, flipped characters, wrong types, deep nesting, alias bombs, huge files, invalid
/// UTF-8, random C# and Scriban fragments): validate and test never throw, every error that names a
/// file has a line and column, an invalid input always gets an error, and each case ends in a time bound.
/// </summary>
public sealed class FuzzTests
{
    private const int Cases = 300;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private static readonly string[] CSharpFragments =
    [
        "(", ")", "=>", "new", "typeof", "\"", "@", "$\"{", "}", "{", "[", "]", "?.", "??", "!", "&&", "||", "==", "'", "\\",
        "default", "null", "is not", "switch {", "x => x", ".Select(", "int.MaxValue", "1e999", "0x", "/*", "*/", "//", "#if", "checked(",
        "nps", "revenue", "DaysSince(", "ParetoThreshold(c => c.revenue", "Regex.IsMatch(name, \"(a+)+$\")", "\u0000", "\u202e",
    ];

    private static readonly string[] ScribanFragments = ["{{", "}}", "{{ end }}", "{{ if", "{{ for x in", "|", "{{ name", "{{ func", "{{ ret", "{{ capture x }}", "{%", "\\"];

    [Fact]
    public async Task Generated_malformed_inputs_get_located_diagnostics_and_never_throw()
    {
        var random = new Random(20261123);
        var baseline = Seeds();
        var slowest = TimeSpan.Zero;
        var rejected = 0;
        for (var i = 0; i < Cases; i++)
        {
            using var workspace = new TempWorkspace();
            workspace.Write("data.csv", "id,name,revenue,nps,last_contact_at\nA,Acme,100,5,2026-01-02\nB,Bolt,5,,\n");
            var (target, content) = Mutate(random, baseline);
            foreach (var (name, text) in baseline)
            {
                if (name != target)
                {
                    workspace.Write(name, text);
                }
            }

            var path = Path.Combine(workspace.Root, target);
            File.WriteAllBytes(path, content);
            if (Environment.GetEnvironmentVariable("PLAYBOOK_FUZZ_DUMP") is { Length: > 0 } dump)
            {
                // For reproducing a case by hand: keep each generated workspace.
                CopyTree(workspace.Root, Path.Combine(dump, i.ToString("D3", System.Globalization.CultureInfo.InvariantCulture)));
            }
            var clock = Stopwatch.StartNew();
            var validation = TestEngine.Validate([workspace.Root]);
            var tests = await TestEngine.TestAsync([workspace.Root]);
            clock.Stop();
            slowest = clock.Elapsed > slowest ? clock.Elapsed : slowest;
            var shown = Encoding.UTF8.GetString(content);
            var label = $"case {i} ({target}): {shown[..Math.Min(shown.Length, 400)]}";
            Assert.True(clock.Elapsed < Bound, $"{label} took {clock.Elapsed}");
            foreach (var diagnostic in validation.Diagnostics.Concat(tests.Diagnostics).Where(d => d.IsError && d.Location.HasPath))
            {
                Assert.True(diagnostic.Location.Line >= 1 && diagnostic.Location.Column >= 1, $"{label}\n{DiagnosticFormatter.FormatText(diagnostic, workspace.Root)}");
            }

            Assert.DoesNotContain(validation.Diagnostics.Concat(tests.Diagnostics), d => d.Id == "PB0001");
            if (!validation.Success)
            {
                rejected++;
                Assert.Contains(validation.Diagnostics, d => d.IsError);
            }
        }

        // The generator must actually produce broken input most of the time.
        Assert.True(rejected > Cases / 2, $"only {rejected} of {Cases} cases were rejected");
    }

    private static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }

    private static Dictionary<string, string> Seeds() => new(StringComparer.Ordinal)
    {
        ["runner.yaml"] = """
            sources:
              crm:
                kind: csv
                path: data.csv
                key: id
                fields: { id: string, name: string, revenue: decimal, nps: int?, last_contact_at: date? }
            channels:
              default: { kind: smtp, host: 127.0.0.1, port: 2525, from: "cs@example.com" }
            """,
        ["p.yaml"] = """
            playbook: p
            source: crm
            let:
              key_revenue: ParetoThreshold(c => c.revenue, 0.80)
            segments:
              key: revenue >= key_revenue
            rules:
              - id: quiet
                when: key && DaysSince(last_contact_at) > 30
                cooldown: 14d
                message: "{{ name }}: {{ days_since last_contact_at }} days"
                actions:
                  - { type: email, to: "a@example.com", subject: "{{ name }}", body: "{{ if nps }}{{ nps }}{{ end }}" }
              - id: unhappy
                when: nps < 7
            """,
        ["p.test.yaml"] = """
            tests:
              - name: quiet key customer
                playbook: p
                as_of: 2026-03-02T09:00:00Z
                records:
                  - { id: A, name: Acme, revenue: 100, nps: 9, last_contact_at: 2026-01-02 }
                expect:
                  - { rule: quiet, key: A, fires: true }
            """,
    };

    private static (string Target, byte[] Content) Mutate(Random random, Dictionary<string, string> seeds)
    {
        var target = seeds.Keys.ElementAt(random.Next(seeds.Count));
        var text = seeds[target];
        var lines = text.Split('\n').ToList();
        switch (random.Next(12))
        {
            case 0:
                return (target, Encoding.UTF8.GetBytes(text[..random.Next(text.Length)]));
            case 1:
                lines.RemoveAt(random.Next(lines.Count));
                break;
            case 2:
                var line = random.Next(lines.Count);
                lines.Insert(line, lines[line]);
                break;
            case 3:
                var chars = text.ToCharArray();
                for (var n = random.Next(1, 6); n > 0; n--)
                {
                    const string chaos = " :-{}[]\"'#&*!|>\t\n";
                    chars[random.Next(chars.Length)] = chaos[random.Next(chaos.Length)];
                }

                return (target, Encoding.UTF8.GetBytes(new string(chars)));
            case 4:
                var bytes = Encoding.UTF8.GetBytes(text).ToList();
                bytes.Insert(random.Next(bytes.Count), (byte)random.Next(0x80, 0x100));
                return (target, [.. bytes]);
            case 5:
                var depth = random.Next(50, 200);
                return (target, Encoding.UTF8.GetBytes($"{text}\nextra: {new string('[', depth)}1{new string(']', depth)}\n"));
            case 6:
                var bomb = new StringBuilder("a: &a [x, x, x, x, x, x, x, x, x]\n");
                for (var level = 'b'; level <= 'k'; level++)
                {
                    bomb.Append(level).Append(": &").Append(level).Append(" [*").Append((char)(level - 1)).Append(", *").Append((char)(level - 1)).Append(", *").Append((char)(level - 1)).Append(", *").Append((char)(level - 1)).Append("]\n");
                }

                return (target, Encoding.UTF8.GetBytes(bomb.ToString()));
            case 7:
                return (target, Encoding.UTF8.GetBytes(text + "\n# " + new string('x', 1_100_000) + "\n"));
            case 8:
                target = "p.yaml";
                var condition = string.Join(" ", Enumerable.Range(0, random.Next(1, 8)).Select(_ => CSharpFragments[random.Next(CSharpFragments.Length)]));
                return (target, Encoding.UTF8.GetBytes(seeds[target].Replace("when: nps < 7", $"when: '{condition.Replace("'", "''", StringComparison.Ordinal)}'", StringComparison.Ordinal)));
            case 9:
                target = "p.yaml";
                var template = string.Join("", Enumerable.Range(0, random.Next(1, 6)).Select(_ => ScribanFragments[random.Next(ScribanFragments.Length)]));
                return (target, Encoding.UTF8.GetBytes(seeds[target].Replace("message: \"{{ name }}: {{ days_since last_contact_at }} days\"", $"message: '{template.Replace("'", "''", StringComparison.Ordinal)}'", StringComparison.Ordinal)));
            case 10:
                // A wrong type where a scalar, list or mapping is expected.
                var wrong = new[] { "[1, 2]", "{ a: 1 }", "12", "true", "null", "''" }[random.Next(6)];
                var key = new[] { "source:", "rules:", "when:", "cooldown:", "playbook:", "records:", "fields:", "kind:", "expect:", "as_of:" }[random.Next(10)];
                var index = lines.FindIndex(l => l.TrimStart().StartsWith(key, StringComparison.Ordinal) || l.Contains(" " + key, StringComparison.Ordinal));
                if (index >= 0)
                {
                    var at = lines[index].IndexOf(key, StringComparison.Ordinal) + key.Length;
                    lines[index] = lines[index][..at] + " " + wrong;
                }

                break;
            default:
                return (target, [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(text.Replace("\n", "\r\n", StringComparison.Ordinal)), 0xFF, 0xFE]);
        }

        return (target, Encoding.UTF8.GetBytes(string.Join('\n', lines)));
    }
}
