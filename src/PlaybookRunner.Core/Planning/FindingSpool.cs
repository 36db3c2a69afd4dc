using System.Buffers;
using System.Buffers.Binary;
using System.Collections;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace PlaybookRunner.Core.Planning;

/// <summary>
/// Collects a plan's findings as the planner renders them and gives them back in the plan's order (playbook,
/// rule in file order, key). Up to <see cref="HostLimit"/> findings are held in memory; past it every finding is
/// written to a spill file of its rule (one per playbook and rule) as the exact bytes the JSON plan shows it with,
/// so that memory does not grow with findings and <c>plan --format json</c> copies them out unchanged. A rule whose
/// findings arrive in key order (a source sorted by key) is read back as written; otherwise its findings are sorted
/// in bounded runs and merged (<see cref="SpillSegment"/>). Spill files are unlinked as soon as they are created
/// (readable by this process only, gone with it however it ends).
/// </summary>
internal sealed class FindingSpool(int inMemory, string folder)
{
    private readonly List<PlannedFinding> _held = [];
    private readonly List<(PlannedFinding Finding, object? Order)> _queued = [];
    private readonly Dictionary<(string Playbook, int Rule), SpillSegment> _segments = [];
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);
    private readonly PendingTally _pending = new();
    private readonly SpillBudget _budget = new(SpillBudget.Default);
    private Utf8JsonWriter? _writer;
    private bool _spilling;

    // Past the held findings, each finding is written to its spill file on a thread of its own, in the order added.
    private OrderedWorker<PlannedFinding>? _spiller;

    /// <summary>The default of <see cref="Model.HostContext.FindingsInMemory"/>: findings held before spilling.</summary>
    public const int HostLimit = 10_000;

    /// <summary>Findings added, resolutions included.</summary>
    public int Count { get; private set; }

    /// <summary>Resolutions added (<c>on_resolve:</c>).</summary>
    public int Resolved { get; private set; }

    /// <summary>Findings whose rule's <c>for:</c> has not run out.</summary>
    public int Waiting { get; private set; }

    /// <summary>Actions of pending findings.</summary>
    public int ActionsPending { get; private set; }

    /// <summary>Findings a suppression covers.</summary>
    public int Suppressed { get; private set; }

    /// <summary>Findings a cooldown holds back.</summary>
    public int HeldBack { get; private set; }

    /// <summary>Findings another rule inhibits.</summary>
    public int Inhibited { get; private set; }

    /// <summary>Findings a rollout throttle defers.</summary>
    public int Deferred { get; private set; }

    /// <summary>The pending actions per playbook and channel, counted as findings were added.</summary>
    public PendingActions Pending => _pending.Result();

    /// <summary>The plan's summary of the findings added: resolutions apart from findings, their actions with the others, and the digests' actions.</summary>
    public PlanSummary Summary(int records, int errors, int digests) =>
        new(records, Count - Resolved, ActionsPending + digests, Suppressed, errors)
        {
            HeldBack = HeldBack,
            Inhibited = Inhibited,
            Waiting = Waiting,
            Resolved = Resolved,
            Deferred = Deferred,
            Digests = digests,
        };

    /// <summary>True once findings are written to spill files.</summary>
    public bool Spilled => _spilling;

    /// <summary>Closes the spill files of a plan that will not be completed (it failed part-way).</summary>
    public void Abandon()
    {
        _spiller?.Dispose();
        foreach (var segment in _segments.Values)
        {
            segment.Dispose();
        }
    }

    /// <summary>
    /// Takes one rendered finding of a rule whose findings wait for the rollout throttles' decision (<see cref="Throttles"/>),
    /// with the value its rule orders by: held in memory until <see cref="Complete"/>.
    /// </summary>
    public void Queue(PlannedFinding finding, object? order)
    {
        Count++;
        _queued.Add((finding, order));
    }

    /// <summary>Takes one rendered finding (its <see cref="PlannedFinding.RuleIndex"/> and folder set). Throws <see cref="IOException"/> when spilling fails.</summary>
    public void Add(PlannedFinding finding)
    {
        Count++;
        Place(finding);
    }

    private void Place(PlannedFinding finding)
    {
        _pending.Add(finding);
        switch (finding.State)
        {
            case FindingState.Pending:
                ActionsPending += finding.Actions.Count;
                break;
            case FindingState.Resolved:
                ActionsPending += finding.Actions.Count;
                Resolved++;
                break;
            case FindingState.Suppressed:
                Resolved += finding.IsResolution ? 1 : 0;
                Suppressed++;
                break;
            case FindingState.Waiting:
                Waiting++;
                break;
            case FindingState.Deferred:
                Deferred++;
                break;
            case FindingState.Inhibited:
                Inhibited++;
                break;
            default:
                HeldBack++;
                break;
        }

        if (!_spilling && _held.Count < inMemory)
        {
            _held.Add(finding);
            return;
        }

        if (!_spilling)
        {
            _spilling = true;
            _spiller = new OrderedWorker<PlannedFinding>(Spill, "plan spill");
            foreach (var held in _held)
            {
                _spiller.Post(held);
            }

            _held.Clear();
            _held.TrimExcess();
        }

        // A spill that failed is thrown here, at the next finding, or by Complete.
        _spiller!.Post(finding);
    }

    /// <summary>
    /// The findings in the plan's order: a list when they were held, else a reader of the spill files. Queued findings are
    /// decided by <paramref name="throttles"/> first and then placed like the others (in key order, so a spilled rule reads back as written).
    /// </summary>
    public IReadOnlyList<PlannedFinding> Complete(Throttles? throttles = null)
    {
        if (_queued.Count > 0)
        {
            var decided = throttles?.Decide(_queued) ?? [.. _queued.Select(q => q.Finding)];
            _queued.Clear();
            foreach (var finding in decided.OrderBy(f => f.Playbook, StringComparer.Ordinal).ThenBy(f => f.RuleIndex).ThenBy(f => f.Key, StringComparer.Ordinal))
            {
                Place(finding);
            }
        }

        if (!_spilling)
        {
            _held.Sort(static (a, b) =>
            {
                var c = string.CompareOrdinal(a.Playbook, b.Playbook);
                c = c != 0 ? c : a.RuleIndex.CompareTo(b.RuleIndex);
                return c != 0 ? c : string.CompareOrdinal(a.Key, b.Key);
            });
            return _held;
        }

        _spiller!.Drain();
        var segments = _segments.Values.OrderBy(s => s.Playbook, StringComparer.Ordinal).ThenBy(s => s.RuleIndex).ToList();
        segments.ForEach(s => s.Finish());
        return new SpooledFindings(segments, Count);
    }

    private void Spill(PlannedFinding finding)
    {
        if (!_segments.TryGetValue((finding.Playbook, finding.RuleIndex), out var segment))
        {
            segment = new SpillSegment(finding.Playbook, finding.RuleIndex, finding.BaseDirectory, folder, budget: _budget);
            _segments[(finding.Playbook, finding.RuleIndex)] = segment;
        }

        // The finding as the JSON plan writes it inside its findings array (depth 2, indented, from the line
        // break before it): copied out as a raw value, it makes the same bytes as writing the finding there.
        // One writer stays inside one findings array for many findings (started again once its buffer holds
        // a megabyte, or when a finding before did not end where it should have), so a finding costs no new
        // writer state and no array opened for it.
        if (_writer is null || _writer.CurrentDepth != 2 || _buffer.WrittenCount > 1 << 20)
        {
            _buffer.ResetWrittenCount();
            if (_writer is null)
            {
                _writer = new Utf8JsonWriter(_buffer, PlanDocument.Indented);
            }
            else
            {
                _writer.Reset(_buffer);
            }

            _writer.WriteStartObject();
            _writer.WriteStartArray("findings");
            _writer.Flush();
        }

        var start = _buffer.WrittenCount;
        PlanDocument.WriteFinding(_writer, finding);
        _writer.Flush();
        var bytes = _buffer.WrittenSpan[start..];
        // After the array's first element the writer puts the separating comma first; the copy-out writes its own.
        segment.Append(finding.Key, bytes[0] == (byte)',' ? bytes[1..] : bytes);
    }
}

/// <summary>
/// One rule's spilled findings in an unlinked file, compressed (zlib at its fastest level: the findings of one rule differ
/// in a few values, so they take about a twelfth of their bytes), each with its key. The file holds sorted runs, each a
/// compressed stream of its own. While the findings arrive in key order (a source sorted by key) they make one run, read
/// back as written. From the first finding out of key order, findings are held up to a bounded size
/// (<c>runBytes</c>), sorted and written as a further run; at the end the runs are merged by key (more than
/// <c>fanIn</c> runs are first merged into fewer, in the same file), so memory does not grow with the findings.
/// </summary>
internal sealed class SpillSegment : IDisposable
{
    private const int ChunkSize = 1 << 20;
    private const int MergeChunkSize = 1 << 16;
    private readonly FileStream _file;
    private readonly int _runBytes;
    private readonly int _fanIn;
    private readonly List<(long Start, long End)> _runs = [];
    // The run being written: findings buffered and compressed into _file (the zlib stream leaves it open).
    private BufferedStream? _packer;
    private long _runStart;
    private string? _lastKey;
    // Findings out of key order, held until they fill a run.
    private List<(string Key, byte[] Finding)>? _unsorted;
    private long _unsortedBytes;

    private readonly SpillBudget? _budget;

    public SpillSegment(string playbook, int ruleIndex, string baseDirectory, string folder, int runBytes = 16 << 20, int fanIn = 64, SpillBudget? budget = null)
    {
        _budget = budget;
        Playbook = playbook;
        RuleIndex = ruleIndex;
        BaseDirectory = baseDirectory;
        _runBytes = runBytes;
        _fanIn = Math.Max(2, fanIn);
        _file = CreateFile(folder);
    }

    /// <summary>
    /// A new file in <paramref name="folder"/> only this process can read (mode 0600), unlinked at once: its data lives while
    /// the stream is open, and nothing is left behind however the process ends. Throws <see cref="IOException"/> or
    /// <see cref="UnauthorizedAccessException"/> when the folder cannot be written.
    /// </summary>
    public static FileStream CreateFile(string folder)
    {
        var path = Path.Combine(folder, $"playbook-spill-{Guid.NewGuid():N}");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.ReadWrite, Share = FileShare.None, BufferSize = 1 << 16 };
        if (OperatingSystem.IsWindows())
        {
            options.Options = FileOptions.DeleteOnClose;
        }
        else
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        var file = new FileStream(path, options);
        if (!OperatingSystem.IsWindows())
        {
            File.Delete(path);
        }

        return file;
    }

    public string Playbook { get; }

    public int RuleIndex { get; }

    public string BaseDirectory { get; }

    /// <summary>The findings appended.</summary>
    public int Count { get; private set; }

    /// <summary>True while every finding so far came in key order (one run).</summary>
    public bool InKeyOrder => _unsorted is null;

    /// <summary>The sorted runs written so far.</summary>
    public int Runs => _runs.Count + (_packer is null ? 0 : 1);

    /// <summary>The bytes the segment's file holds so far.</summary>
    public long FileBytes => _file.Length;

    public void Dispose()
    {
        try
        {
            // A segment disposed before it was finished belongs to a plan that failed: ending its compressed stream may fail
            // as the file did, and nothing will read it.
            _packer?.Dispose();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The file below is closed either way.
        }
        finally
        {
            _packer = null;
            _file.Dispose();
        }
    }

    public void Append(string key, ReadOnlySpan<byte> finding)
    {
        if (_unsorted is null && _lastKey is not null && string.CompareOrdinal(key, _lastKey) < 0)
        {
            // Out of key order: the run so far is sorted; from here on findings are sorted a run at a time.
            EndRun();
            _unsorted = [];
        }

        Count++;
        if (_unsorted is null)
        {
            Write(key, finding);
            _lastKey = key;
            return;
        }

        _unsorted.Add((key, finding.ToArray()));
        var held = finding.Length + (2L * key.Length) + 80;
        _unsortedBytes += held;
        if (_budget is { } budget)
        {
            budget.Held += held;
        }

        // A run is written when this rule holds its share, or when all rules together hold the spool's limit.
        if (_unsortedBytes >= _runBytes || _budget?.Held >= _budget?.Limit)
        {
            WriteUnsorted();
        }
    }

    /// <summary>Writes out what is held and buffered, and merges the runs down to at most <c>fanIn</c>.</summary>
    public void Finish()
    {
        WriteUnsorted();
        EndRun();
        while (_runs.Count > _fanIn)
        {
            var merged = _runs.GetRange(0, _fanIn);
            StartRun();
            foreach (var (key, finding) in Merge(merged))
            {
                WriteRaw(key.Span, finding.Span);
            }

            EndRun();
            _runs.RemoveRange(0, _fanIn);
        }
    }

    /// <summary>
    /// The findings' bytes in key order. Each is valid until the next one is read: the buffers are reused.
    /// Enumerations are independent (positional reads), so several may run at once.
    /// </summary>
    public IEnumerable<ReadOnlyMemory<byte>> Records()
    {
        if (_runs.Count == 1)
        {
            foreach (var (_, finding) in ReadRun(_runs[0], ChunkSize))
            {
                yield return finding;
            }

            yield break;
        }

        foreach (var (_, finding) in Merge(_runs))
        {
            yield return finding;
        }
    }

    /// <summary>The finding <paramref name="bytes"/> hold, bound to this segment's rule and folder.</summary>
    public PlannedFinding Read(ReadOnlyMemory<byte> bytes)
    {
        using var document = JsonDocument.Parse(bytes);
        return PlanDocument.ReadFinding(document.RootElement) with { RuleIndex = RuleIndex, BaseDirectory = BaseDirectory };
    }

    private void WriteUnsorted()
    {
        if (_unsorted is not { Count: > 0 } unsorted)
        {
            return;
        }

        unsorted.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        foreach (var (key, finding) in unsorted)
        {
            Write(key, finding);
        }

        EndRun();
        unsorted.Clear();
        if (_budget is { } budget)
        {
            budget.Held -= _unsortedBytes;
        }

        _unsortedBytes = 0;
    }

    // The key is kept as its UTF-16 code units, exactly: it reads back as the same string (a lone surrogate included),
    // so runs merge in the same ordinal order as a held plan sorts.
    private void Write(string key, ReadOnlySpan<byte> finding) => WriteRaw(MemoryMarshal.AsBytes(key.AsSpan()), finding);

    private static string KeyOf(ReadOnlyMemory<byte> key) => new(MemoryMarshal.Cast<byte, char>(key.Span));

    /// <summary>One record of the run being written (started if none is): the key's length and UTF-16 bytes, the finding's length and bytes.</summary>
    private void WriteRaw(ReadOnlySpan<byte> key, ReadOnlySpan<byte> finding)
    {
        if (_packer is null)
        {
            StartRun();
        }

        Span<byte> header = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(header, key.Length);
        _packer!.Write(header);
        _packer.Write(key);
        BinaryPrimitives.WriteInt32LittleEndian(header, finding.Length);
        _packer.Write(header);
        _packer.Write(finding);
    }

    private void StartRun()
    {
        _runStart = _file.Position;
        _packer = new BufferedStream(new ZLibStream(_file, CompressionLevel.Fastest, leaveOpen: true), 1 << 16);
    }

    private void EndRun()
    {
        if (_packer is { } packer)
        {
            _packer = null;
            packer.Dispose(); // flushes and ends the run's compressed stream (leaving the file open)
            _file.Flush();
            _runs.Add((_runStart, _file.Position));
        }
    }

    /// <summary>The runs' records merged in key order (ties in run order); each valid until the next.</summary>
    private IEnumerable<(ReadOnlyMemory<byte> Key, ReadOnlyMemory<byte> Finding)> Merge(List<(long Start, long End)> runs)
    {
        var readers = runs.Select(r => ReadRun(r, MergeChunkSize).GetEnumerator()).ToList();
        try
        {
            var queue = new PriorityQueue<int, (string Key, int Run)>(Comparer<(string Key, int Run)>.Create(static (a, b) =>
                string.CompareOrdinal(a.Key, b.Key) is var c && c != 0 ? c : a.Run.CompareTo(b.Run)));
            for (var run = 0; run < readers.Count; run++)
            {
                if (readers[run].MoveNext())
                {
                    queue.Enqueue(run, (KeyOf(readers[run].Current.Key), run));
                }
            }

            while (queue.TryDequeue(out var run, out _))
            {
                yield return readers[run].Current;
                if (readers[run].MoveNext())
                {
                    queue.Enqueue(run, (KeyOf(readers[run].Current.Key), run));
                }
            }
        }
        finally
        {
            readers.ForEach(r => r.Dispose());
        }
    }

    /// <summary>The records of one run in file order, decompressed a chunk at a time; each valid until the next.</summary>
    private IEnumerable<(ReadOnlyMemory<byte> Key, ReadOnlyMemory<byte> Finding)> ReadRun((long Start, long End) run, int chunkSize)
    {
        using var stream = new ZLibStream(new FileView(_file.SafeFileHandle, run.Start, run.End), CompressionMode.Decompress);
        var chunk = new byte[chunkSize];
        int at = 0, filled = 0;
        while (true)
        {
            if (filled - at < 4 && !Fill(4))
            {
                yield break;
            }

            var keyLength = Length(chunk, at);
            if (filled - at < 8 + keyLength && !Fill(8 + keyLength))
            {
                throw new IOException("a spill file of the plan ended early");
            }

            var size = Length(chunk, at + 4 + keyLength);
            if (filled - at < 8 + keyLength + size && !Fill(8 + keyLength + size))
            {
                throw new IOException("a spill file of the plan ended early");
            }

            yield return (chunk.AsMemory(at + 4, keyLength), chunk.AsMemory(at + 8 + keyLength, size));
            at += 8 + keyLength + size;
        }

        // Moves the rest of the chunk to its front (into a bigger chunk if a record is larger) and reads on until it holds
        // <paramref name="needed"/> bytes. False at the end of the run with nothing left; throws when a record is cut short.
        bool Fill(int needed)
        {
            var rest = filled - at;
            var into = needed > chunk.Length ? new byte[Math.Max(needed, chunk.Length * 2)] : chunk;
            chunk.AsSpan(at, rest).CopyTo(into);
            chunk = into;
            at = 0;
            filled = rest + stream.ReadAtLeast(chunk.AsSpan(rest), needed - rest, throwOnEndOfStream: false);
            return filled == 0 ? false : filled >= needed ? true : throw new IOException("a spill file of the plan ended early");
        }
    }

    private static int Length(byte[] chunk, int at) => BinaryPrimitives.ReadInt32LittleEndian(chunk.AsSpan(at, 4)) is var n and >= 0
        ? n : throw new IOException("a spill file of the plan is damaged");

    /// <summary>A read-only view of the bytes from <paramref name="start"/> to <paramref name="end"/> of a file, with a position of its own (positional reads).</summary>
    private sealed class FileView(SafeFileHandle handle, long start, long end) : Stream
    {
        private long _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => end - start;

        public override long Position
        {
            get => _read;
            set => throw new NotSupportedException();
        }

        public override int Read(Span<byte> buffer)
        {
            var read = RandomAccess.Read(handle, buffer[..(int)Math.Min(buffer.Length, end - start - _read)], start + _read);
            _read += read;
            return read;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>
/// What a plan's spill segments together hold of findings out of key order (touched by the one spill thread), against one
/// limit: many rules out of order hold no more than a few.
/// </summary>
internal sealed class SpillBudget(long limit)
{
    /// <summary>The default limit: 64 MB of findings held to be sorted, whatever the number of rules.</summary>
    public const long Default = 64 << 20;

    public long Limit => limit;

    public long Held { get; set; }
}

/// <summary>
/// A plan's findings read back from its spill files, in the plan's order. Enumerating reads them again each
/// time (nothing is held); the indexer walks to the position, so read them in order.
/// </summary>
internal sealed class SpooledFindings(IReadOnlyList<SpillSegment> segments, int count) : IReadOnlyList<PlannedFinding>, IDisposable
{
    /// <summary>Closes the spill files: the findings cannot be read afterwards.</summary>
    public void Dispose()
    {
        foreach (var segment in segments)
        {
            segment.Dispose();
        }
    }

    public int Count => count;

    /// <summary>The findings per playbook and rule (its index in the playbook), counted as they were spilled: nothing is read back.</summary>
    public IEnumerable<(string Playbook, int RuleIndex, int Count)> PerRule() => segments.Select(s => (s.Playbook, s.RuleIndex, s.Count));

    public PlannedFinding this[int index] => index >= 0 && index < count ? this.Skip(index).First() : throw new ArgumentOutOfRangeException(nameof(index));

    public IEnumerator<PlannedFinding> GetEnumerator()
    {
        foreach (var segment in segments)
        {
            foreach (var bytes in segment.Records())
            {
                yield return segment.Read(bytes);
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Copies every finding into the plan's findings array as the bytes spilled (the same as writing each there).</summary>
    public void WriteTo(Utf8JsonWriter json)
    {
        foreach (var segment in segments)
        {
            foreach (var bytes in segment.Records())
            {
                if (json.BytesPending > 64 * 1024)
                {
                    json.Flush();
                }

                json.WriteRawValue(bytes.Span, skipInputValidation: true);
            }
        }
    }
}
