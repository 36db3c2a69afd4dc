using System.Text;
using System.Text.Json;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Loading;
using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Planning;
using PlaybookRunner.Hosting;

namespace PlaybookRunner.Core.Tests.Planning;

/// <summary>
/// The daemon reads its worker's answer a finding at a time from the file it was copied to, spilling past the host's
/// limit, so a large answer is never held whole (docs/performance.md, "Findings are not held"); what it reads is the
/// plan the worker wrote, and an answer that is not one is refused, never half taken.
/// </summary>
public sealed class WorkerAnswerTests
{
    private static readonly DateTimeOffset AsOf = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    /// <summary>The example workspace planned, and its answer as the worker writes it.</summary>
    private static async Task<(Plan Plan, byte[] Answer)> Answer()
    {
        var engine = new PlaybookEngine(TestEngine.Options(new FixedTimeProvider(AsOf)));
        var result = await engine.PlanAsync([TestPaths.Playbooks], AsOf);
        Assert.True(result.Plan is not null, string.Join("\n", result.Diagnostics.Select(d => d.Message)));
        using var answer = new MemoryStream();
        new WorkerResponse(result.Plan, result.Diagnostics).Write(answer);
        return (result.Plan!, answer.ToArray());
    }

    private static WorkspaceDefinition Workspace(int inMemory, string spillFolder)
    {
        var host = (TestEngine.Options(new FixedTimeProvider(AsOf)) with { FindingsInMemory = inMemory, SpillFolder = spillFolder }).Host();
        var diagnostics = new DiagnosticBag();
        var workspace = WorkspaceLoader.Load([TestPaths.Playbooks], host, diagnostics);
        Assert.True(workspace is not null && !diagnostics.HasErrors, string.Join("\n", diagnostics.Items.Select(d => d.Message)));
        return workspace!;
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 7)]
    [InlineData(100_000, 3)]
    [InlineData(1, 100_000)]
    public async Task The_answer_read_a_finding_at_a_time_is_the_plan_the_worker_wrote(int inMemory, int bytesPerRead)
    {
        var (plan, answer) = await Answer();
        using var spill = new TempWorkspace();

        var read = WorkerResponse.Read(new TrickleStream(answer, bytesPerRead), Workspace(inMemory, spill.Root));

        Assert.NotNull(read.Plan);
        Assert.Equal(inMemory == 1, read.Plan!.Findings is SpooledFindings);
        Assert.Equal(PlanDocument.Write(plan, TestPaths.RepoRoot), PlanDocument.Write(read.Plan, TestPaths.RepoRoot));
        Assert.Equal(plan.Summary, read.Plan.Summary);
        Assert.Equal(PendingActions.Of(plan).ByChannel, PendingActions.Of(read.Plan).ByChannel);
        Assert.All(read.Plan.Findings, f => Assert.True(f.RuleIndex >= 0 && f.BaseDirectory.Length > 0));
        read.Plan.ReleaseFindings();
        Assert.Empty(Directory.EnumerateFileSystemEntries(spill.Root));
    }

    [Fact]
    public async Task An_answer_cut_anywhere_is_refused_as_not_a_plan_and_its_spill_files_are_closed()
    {
        var (_, answer) = await Answer();
        using var spill = new TempWorkspace();
        var workspace = Workspace(1, spill.Root);
        for (var length = 0; length < answer.Length - 1; length += Math.Max(1, answer.Length / 97))
        {
            var cut = answer[..length];
            var ex = Record.Exception(() => WorkerResponse.Read(new MemoryStream(cut), workspace));
            Assert.True(ex is JsonException or FormatException, $"cut at {length}: {ex?.GetType().Name} {ex?.Message}");
        }

        if (OperatingSystem.IsLinux())
        {
            // Open files are counted through /proc: the spool of every refused answer was closed.
            Assert.DoesNotContain(Directory.EnumerateFileSystemEntries("/proc/self/fd"),
                fd => new FileInfo(fd).LinkTarget is { } target && target.StartsWith(Path.Combine(spill.Root, "playbook-spill-"), StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("nonsense")]
    [InlineData("[1, 2]")]
    [InlineData("{\"plan\": null}")]
    [InlineData("{\"diagnostics\": []}")]
    [InlineData("{\"plan\": 3, \"diagnostics\": []}")]
    [InlineData("{\"plan\": null, \"diagnostics\": {}}")]
    [InlineData("{\"plan\": {\"asOf\": \"2026-01-01T00:00:00Z\", \"findings\": {}}, \"diagnostics\": []}")]
    [InlineData("{\"plan\": {\"asOf\": \"2026-01-01T00:00:00Z\", \"findings\": [3]}, \"diagnostics\": []}")]
    [InlineData("{\"plan\": {\"asOf\": \"2026-01-01T00:00:00Z\", \"findings\": [{\"playbook\": \"p\"}]}, \"diagnostics\": []}")]
    [InlineData("{\"plan\": {\"findings\": []}, \"diagnostics\": []}")]
    [InlineData("{\"plan\": {\"asOf\": \"2026-01-01T00:00:00Z\", \"findings\": []}, \"diagnostics\": [] } trailing")]
    [InlineData("{\"plan\": {\"asOf\": \"2026-01-01T00:00:00Z\", \"findings\": [], \"findings\": []}, \"diagnostics\": []}")]
    [InlineData("{\"plan\": null, \"plan\": null, \"diagnostics\": []}")]
    [InlineData("{\"plan\": null, \"diagnostics\": [], \"diagnostics\": []}")]
    public void An_answer_that_is_not_a_plan_is_refused_without_another_kind_of_exception(string text)
    {
        using var spill = new TempWorkspace();

        var ex = Record.Exception(() => WorkerResponse.Read(new MemoryStream(Encoding.UTF8.GetBytes(text)), Workspace(1, spill.Root)));

        Assert.True(ex is JsonException or FormatException, $"{ex?.GetType().Name}: {ex?.Message}");
    }

    [Fact]
    public void A_single_value_larger_than_the_limit_is_refused_not_buffered()
    {
        var text = "{\"a\": \"" + new string('x', 10_000) + "\", \"b\": 1}";
        var reader = new JsonValueReader(new TrickleStream(Encoding.UTF8.GetBytes(text), 100), maxValueBytes: 4096);

        Assert.Equal(JsonTokenType.StartObject, reader.Next());
        Assert.Equal(JsonTokenType.PropertyName, reader.Next());
        var ex = Assert.Throws<JsonException>(() => reader.NextValue());
        Assert.Equal("a value is larger than 4 KiB", ex.Message);
    }

    [Fact]
    public void Values_split_across_reads_come_back_whole_and_in_order()
    {
        var text = "{\"n\": [1, {\"a\": [true, null, \"\\u00e9\\\"\"]}, -2.5e3, \"last\"], \"m\": {}}";
        var reader = new JsonValueReader(new TrickleStream(Encoding.UTF8.GetBytes(text), 1), maxValueBytes: 64);

        Assert.Equal(JsonTokenType.StartObject, reader.Next());
        Assert.Equal(JsonTokenType.PropertyName, reader.Next());
        Assert.Equal("n", reader.Name);
        Assert.Equal(JsonTokenType.StartArray, reader.Next());
        var values = new List<string>();
        while (reader.NextValue() is { } value)
        {
            using (value)
            {
                values.Add(value.RootElement.GetRawText());
            }
        }

        Assert.Equal(["1", "{\"a\": [true, null, \"\\u00e9\\\"\"]}", "-2.5e3", "\"last\""], values);
        Assert.Equal(JsonTokenType.PropertyName, reader.Next());
        Assert.Equal("m", reader.Name);
        using (var empty = reader.NextValue())
        {
            Assert.Equal("{}", empty!.RootElement.GetRawText());
        }

        Assert.Equal(JsonTokenType.EndObject, reader.Next());
    }

    [Fact]
    public async Task A_spill_folder_that_cannot_be_written_fails_the_read_with_an_io_error()
    {
        var (_, answer) = await Answer();

        var ex = Record.Exception(() => WorkerResponse.Read(new MemoryStream(answer), Workspace(1, Path.Combine(Path.GetTempPath(), "no-such-folder-" + Guid.NewGuid().ToString("N")))));

        Assert.True(ex is IOException or UnauthorizedAccessException, $"{ex?.GetType().Name}: {ex?.Message}");
    }

    /// <summary>A stream that gives at most a few bytes a read, as a pipe may.</summary>
    private sealed class TrickleStream(byte[] bytes, int perRead) : MemoryStream(bytes)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, perRead));

        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, perRead)]);
    }
}
