using System.Globalization;
using System.Text;
using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Core.Tests.Planning;

/// <summary>
/// A plan with more findings than it holds in memory spills them, rendered, to unlinked files and gives them
/// back in the plan's order: the JSON plan, the reports and what <c>run</c> executes are the same as when they
/// are held (docs/performance.md, "Findings are not held").
/// </summary>
public sealed class FindingSpoolTests
{
    private static readonly DateTimeOffset AsOf = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private static async Task<(PlanResult Result, string Json)> PlanWith(IReadOnlyList<string> paths, int inMemory, string spillFolder)
    {
        var engine = new PlaybookEngine(TestEngine.Options(new FixedTimeProvider(AsOf)) with { FindingsInMemory = inMemory, SpillFolder = spillFolder });
        var result = await engine.PlanAsync(paths, AsOf);
        Assert.True(result.Plan is not null, string.Join("\n", result.Diagnostics.Select(d => d.Message)));
        return (result, PlanDocument.Write(result.Plan!, TestPaths.RepoRoot));
    }

    [Fact]
    public async Task The_examples_planned_with_every_finding_spilled_are_the_golden_plan_byte_for_byte()
    {
        using var spill = new TempWorkspace();

        var (result, json) = await PlanWith([TestPaths.Playbooks], 1, spill.Root);

        Assert.IsType<SpooledFindings>(result.Plan!.Findings);
        Assert.Equal(File.ReadAllText(Path.Combine(TestPaths.Goldens, "examples.plan.json")), json);
        Assert.Empty(Directory.EnumerateFileSystemEntries(spill.Root));
    }

    [Fact]
    public async Task Releasing_a_spilled_plans_findings_closes_its_spill_files()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // open files are counted through /proc
        }

        using var spill = new TempWorkspace();
        var (result, _) = await PlanWith([TestPaths.Playbooks], 1, spill.Root);
        int Open() => Directory.EnumerateFileSystemEntries("/proc/self/fd")
            .Count(fd => new FileInfo(fd).LinkTarget is { } target && target.StartsWith(Path.Combine(spill.Root, "playbook-spill-"), StringComparison.Ordinal));
        Assert.True(Open() > 0);

        result.Plan!.ReleaseFindings();

        Assert.Equal(0, Open());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_spilled_plan_equals_a_held_one_whether_the_source_is_in_key_order_or_not(bool sorted)
    {
        using var workspace = new TempWorkspace();
        var keys = Enumerable.Range(0, 300).Select(i => $"C{i:D4}").ToArray();
        if (!sorted)
        {
            new Random(7).Shuffle(keys);
        }

        var csv = new StringBuilder("id,n,email\n");
        foreach (var key in keys)
        {
            var n = int.Parse(key[1..], CultureInfo.InvariantCulture);
            csv.Append(CultureInfo.InvariantCulture, $"{key},{n},c{n}@example.com\n");
        }

        workspace.Write("d.csv", csv.ToString());
        workspace.Write("runner.yaml", "channels:\n  default: { kind: smtp, host: 127.0.0.1, from: cs@example.com }\n  hook: { kind: webhook, url: \"http://127.0.0.1:9/x\" }\n");
        workspace.Write("suppressions.yaml", "suppressions:\n  - { rule: b/wide, key: C0010, justification: on hold }\n");
        workspace.Write("a.yaml", """
            playbook: a
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int, email: string } }
            let:
              top: Percentile(r => r.n, 0.90)
            rules:
              - id: even
                when: n % 2 == 0
                message: "Customer {{ id }} ({{ n }}) — \"even\" <b>"
                actions:
                  - { type: email, to: "{{ email }}", subject: "Hello {{ id }}", body: "Line one for {{ id }}\nline two: {{ n }}\n" }
                  - { type: webhook, channel: hook, body: '{"id": "{{ id }}", "n": {{ n }}}' }
              - id: top
                when: n >= top
                actions:
                  - { type: file, path: out/top.jsonl, body: '{"id": "{{ id }}"}' }
            """);
        workspace.Write("b.yaml", """
            playbook: b
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int, email: string } }
            rules:
              - id: wide
                when: n % 3 == 0
                message: "{{ id }}"
            """);

        using var spill = new TempWorkspace();
        var (held, heldJson) = await PlanWith([workspace.Root], 1_000_000, spill.Root);
        var (spilled, spilledJson) = await PlanWith([workspace.Root], 7, spill.Root);

        Assert.IsNotType<SpooledFindings>(held.Plan!.Findings);
        Assert.IsType<SpooledFindings>(spilled.Plan!.Findings);
        Assert.Equal(heldJson, spilledJson);
        Assert.Equal(held.Plan.Summary, spilled.Plan.Summary);
        Assert.Equal(PlanWriter.WriteText(new PlanView(held.Plan, workspace.Root)), PlanWriter.WriteText(new PlanView(spilled.Plan, workspace.Root)));
        // What run reads of each finding: its rule's index and folder (file actions) besides what the JSON shows.
        Assert.Equal(
            held.Plan.Findings.Select(f => (f.Playbook, f.RuleIndex, f.Key, f.BaseDirectory, f.State, f.Actions.Count)),
            spilled.Plan.Findings.Select(f => (f.Playbook, f.RuleIndex, f.Key, f.BaseDirectory, f.State, f.Actions.Count)));
        Assert.Equal(held.Plan.Findings[41].Key, spilled.Plan.Findings[41].Key);
        Assert.Empty(Directory.EnumerateFileSystemEntries(spill.Root));
    }

    [Fact]
    public async Task Megabytes_of_spilled_findings_equal_the_held_plan_byte_for_byte()
    {
        // The spill's writer stays inside one findings array and starts again past a megabyte of findings: 2,500 findings
        // of about 1.6 KiB each cross that point several times, with the separating commas of every one in between.
        using var workspace = MegabytesOfFindings();
        using var spill = new TempWorkspace();
        var (held, heldJson) = await PlanWith([workspace.Root], 1_000_000, spill.Root);
        var (spilled, spilledJson) = await PlanWith([workspace.Root], 1, spill.Root);

        Assert.IsType<SpooledFindings>(spilled.Plan!.Findings);
        Assert.Equal(2500, spilled.Plan.Findings.Count);
        Assert.True(heldJson.Length > 3 << 20, $"the plan is {heldJson.Length} characters");
        Assert.Equal(heldJson, spilledJson);
    }

    [Fact]
    public async Task A_spill_folder_that_cannot_be_written_is_a_diagnostic_and_no_plan()
    {
        using var spill = new TempWorkspace();
        var missing = Path.Combine(spill.Root, "no", "such", "folder");
        var engine = new PlaybookEngine(TestEngine.Options(new FixedTimeProvider(AsOf)) with { FindingsInMemory = 2, SpillFolder = missing });

        var result = await engine.PlanAsync([TestPaths.Playbooks], AsOf);

        Assert.Null(result.Plan);
        var error = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.Equal("PB5017", error.Id);
        Assert.StartsWith($"A plan of more than 2 findings writes them to temporary files in '{missing}', which failed: ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_spill_that_fails_on_its_own_thread_is_the_same_diagnostic_and_no_plan()
    {
        // 3,000 findings: rendered on the rendering thread and spilled on the spill thread, where creating the first spill
        // file fails; the failure comes back through both threads to the evaluation, which stops.
        using var workspace = new TempWorkspace();
        workspace.Write("d.csv", "id,n\n" + string.Concat(Enumerable.Range(0, 3000).Select(i => $"C{i:D5},{i}\n")));
        workspace.Write("p.yaml", "playbook: p\nsource: { kind: csv, path: d.csv, key: id, fields: { id: string, n: int } }\nrules:\n  - { id: all, when: \"true\", message: \"{{ id }} {{ n }}\" }\n");
        using var spill = new TempWorkspace();
        var missing = Path.Combine(spill.Root, "no", "such", "folder");
        var engine = new PlaybookEngine(TestEngine.Options(new FixedTimeProvider(AsOf)) with { FindingsInMemory = 2, SpillFolder = missing });

        var result = await engine.PlanAsync([workspace.Root], AsOf);

        Assert.Null(result.Plan);
        var error = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.Equal("PB5017", error.Id);
        Assert.StartsWith($"A plan of more than 2 findings writes them to temporary files in '{missing}', which failed: ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("abcd")]
    [InlineData("dacb")]
    [InlineData("acbd")]
    public void A_segment_gives_back_records_of_any_size_in_key_order(string order)
    {
        var keys = order.Select(c => c.ToString()).ToArray();
        using var spill = new TempWorkspace();
        var segment = new SpillSegment("p", 0, spill.Root, spill.Root);
        // A record larger than the read chunk (1 MiB), and small ones around it.
        var sizes = new Dictionary<string, int> { ["a"] = 10, ["b"] = (1 << 20) + 17, ["c"] = 3, ["d"] = 70_000 };
        string Record(string key) => $"{{\"key\": \"{key}\", \"pad\": \"{new string(key[0], sizes[key])}\"}}";
        foreach (var key in keys)
        {
            segment.Append(key, Encoding.UTF8.GetBytes(Record(key)));
        }

        segment.Finish();

        Assert.Equal(new[] { "a", "b", "c", "d" }.Select(Record), segment.Records().Select(r => Encoding.UTF8.GetString(r.Span)));
        Assert.Equal(new[] { "a", "b", "c", "d" }.Select(Record), segment.Records().Select(r => Encoding.UTF8.GetString(r.Span)));
        Assert.Empty(Directory.EnumerateFileSystemEntries(spill.Root));
    }

    [Fact]
    public void A_segment_in_key_order_is_one_run_and_findings_out_of_order_are_sorted_in_runs_and_merged_losing_nothing()
    {
        using var spill = new TempWorkspace();
        using var segment = new SpillSegment("p", 0, spill.Root, spill.Root);
        for (var n = 0; n < 5_000; n += 2)
        {
            segment.Append($"K{n:D6}", Encoding.UTF8.GetBytes(SimilarFinding(n)));
        }

        Assert.True(segment.InKeyOrder);
        Assert.Equal(1, segment.Runs);
        segment.Append("K000001", Encoding.UTF8.GetBytes(SimilarFinding(1)));
        Assert.False(segment.InKeyOrder);
        segment.Append("K000003", Encoding.UTF8.GetBytes(SimilarFinding(3)));
        segment.Finish();

        Assert.Equal(2_502, segment.Count);
        Assert.Equal(2, segment.Runs);
        var expected = Enumerable.Range(0, 5_000).Where(n => n % 2 == 0 || n is 1 or 3).Select(SimilarFinding);
        Assert.Equal(expected, segment.Records().Select(r => Encoding.UTF8.GetString(r.Span)));
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(4_096, 3)]
    [InlineData(65_536, 64)]
    public void Findings_in_any_order_come_back_in_key_order_however_many_runs_they_fill_and_merges_they_take(int runBytes, int fanIn)
    {
        // Memory does not grow with the findings of a source out of key order: they are held a run at a time (runBytes),
        // and more runs than fanIn are merged into fewer before the last merge. Keys of several lengths, a few non-ASCII.
        // A lone surrogate (a JSON source may send "\ud800") sorts where string.CompareOrdinal puts it, as in a held plan.
        var keys = Enumerable.Range(0, 3_000).Select(n => n % 7 == 0 ? $"é{n}" : n % 11 == 0 ? $"K{n}" : n % 13 == 0 ? $"\ud800{n}" : n % 17 == 0 ? $"\uffff{n}" : n % 19 == 0 ? $"\ue000{n}" : $"K{n:D5}").ToList();
        var shuffled = keys.OrderBy(k => (k.GetHashCode(StringComparison.Ordinal) * 31) ^ k.Length).ToList();
        using var spill = new TempWorkspace();
        using var segment = new SpillSegment("p", 0, spill.Root, spill.Root, runBytes, fanIn);
        foreach (var key in shuffled)
        {
            segment.Append(key, Encoding.UTF8.GetBytes($"{{\"key\": \"{key}\"}}"));
        }

        segment.Finish();

        Assert.InRange(segment.Runs, 1, fanIn);
        var ordered = keys.Order(StringComparer.Ordinal).Select(k => Encoding.UTF8.GetBytes($"{{\"key\": \"{k}\"}}")).ToList();
        Assert.Equal(ordered, segment.Records().Select(r => r.ToArray()));
        Assert.Equal(ordered, segment.Records().Select(r => r.ToArray()));
    }

    [Fact]
    public void Rules_out_of_key_order_together_hold_no_more_than_the_spools_limit()
    {
        // Each rule may hold a megabyte, but the two share a budget of 10 KB: they write runs as the budget fills.
        var budget = new SpillBudget(10_000);
        using var spill = new TempWorkspace();
        using var a = new SpillSegment("p", 0, spill.Root, spill.Root, 1 << 20, 64, budget);
        using var b = new SpillSegment("p", 1, spill.Root, spill.Root, 1 << 20, 64, budget);
        var keys = Enumerable.Range(0, 2_000).Select(n => $"K{(n * 7_919) % 2_000:D5}").ToList();
        var most = 0L;
        foreach (var key in keys)
        {
            a.Append(key, Encoding.UTF8.GetBytes(SimilarFinding(int.Parse(key[1..], CultureInfo.InvariantCulture))));
            b.Append(key, Encoding.UTF8.GetBytes(SimilarFinding(int.Parse(key[1..], CultureInfo.InvariantCulture))));
            most = Math.Max(most, budget.Held);
        }

        a.Finish();
        b.Finish();

        Assert.InRange(most, 1, 10_000);
        Assert.Equal(0, budget.Held);
        Assert.True(a.Runs > 1 && b.Runs > 1, $"runs: {a.Runs}, {b.Runs}");
        var expected = Enumerable.Range(0, 2_000).Select(SimilarFinding).ToList();
        Assert.Equal(expected, a.Records().Select(r => Encoding.UTF8.GetString(r.Span)));
        Assert.Equal(expected, b.Records().Select(r => Encoding.UTF8.GetString(r.Span)));
    }

    [Fact]
    public void A_segment_in_key_order_takes_a_fraction_of_its_findings_bytes_on_disk()
    {
        using var spill = new TempWorkspace();
        using var segment = new SpillSegment("p", 0, spill.Root, spill.Root);
        var raw = 0L;
        for (var n = 0; n < 20_000; n++)
        {
            var bytes = Encoding.UTF8.GetBytes(SimilarFinding(n));
            raw += 4 + bytes.Length;
            segment.Append($"K{n:D6}", bytes);
        }

        segment.Finish();

        Assert.True(segment.InKeyOrder);
        Assert.True(segment.FileBytes * 5 < raw, $"{segment.FileBytes} bytes on disk for {raw} bytes of findings");
        Assert.Equal(Enumerable.Range(0, 20_000).Select(SimilarFinding), segment.Records().Select(r => Encoding.UTF8.GetString(r.Span)));
    }

    /// <summary>A workspace of 2,500 findings of about 1.6 KiB each (a message and a webhook body with a 700-character note).</summary>
    private static TempWorkspace MegabytesOfFindings()
    {
        var workspace = new TempWorkspace();
        var csv = new StringBuilder("id,note\n");
        for (var i = 0; i < 2500; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"C{i:D5},{new string((char)('a' + (i % 26)), 700 + (i % 50))}\n");
        }

        workspace.Write("d.csv", csv.ToString());
        workspace.Write("runner.yaml", "channels:\n  hook: { kind: webhook, url: \"http://127.0.0.1:9/x\" }\n");
        workspace.Write("p.yaml", """
            playbook: p
            source: { kind: csv, path: d.csv, key: id, fields: { id: string, note: string } }
            rules:
              - id: all
                when: "true"
                message: "{{ id }}: {{ note }}"
                actions:
                  - { type: webhook, channel: hook, body: '{"id": "{{ id }}", "note": "{{ note }}"}' }
            """);
        return workspace;
    }

    [Fact]
    public async Task A_plan_file_that_fails_while_the_spill_is_copied_into_it_is_the_writes_own_error()
    {
        // A write that fails part-way through the spilled findings (a full disk) comes back to the caller as the write's
        // own error, and the spill is left as it was.
        using var workspace = MegabytesOfFindings();
        using var spill = new TempWorkspace();
        var (spilled, _) = await PlanWith([workspace.Root], 1, spill.Root);
        using var full = new FailingStream(1 << 20);

        var error = Assert.Throws<IOException>(() => PlanDocument.Write(full, spilled.Plan!, workspace.Root));

        Assert.Equal("No space left on device", error.Message);
        Assert.True(full.Failures > 0);
        // The plan can still be written whole afterwards: the spill files are untouched.
        using var written = new MemoryStream();
        PlanDocument.Write(written, spilled.Plan!, workspace.Root);
        Assert.True(written.Length > 3 << 20);
    }

    /// <summary>A stream that takes <paramref name="room"/> bytes and then fails every write, as a full disk does.</summary>
    private sealed class FailingStream(long room) : MemoryStream
    {
        public int Failures { get; private set; }

        public override void Write(ReadOnlySpan<byte> buffer) => Write(buffer.ToArray(), 0, buffer.Length);

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (Length + count > room)
            {
                Failures++;
                throw new IOException("No space left on device");
            }

            base.Write(buffer, offset, count);
        }
    }

    /// <summary>A finding of one rule: the same shape with a few values changed, as a rule's rendered findings are.</summary>
    private static string SimilarFinding(int n) =>
        $"{{\"key\": \"K{n:D6}\", \"message\": \"K{n:D6} (Fiber, north): {n % 7} open tickets, {n % 90} days since contact\"}}";
}
