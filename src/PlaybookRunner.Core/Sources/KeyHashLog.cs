namespace PlaybookRunner.Core.Sources;

/// <summary>
/// The 64-bit hashes of the keys a source has produced, appended in reading order (8 bytes a record)
/// and sorted once, in a copy, at the end to find repeats. Appending is a sequential write, where a
/// hash set would cost a cache miss per record in the middle of parsing; a repeat is only a candidate,
/// which the caller confirms against the data, so a hash collision is never reported as a duplicate.
/// </summary>
internal sealed class KeyHashLog
{
    // Chunks of 64 KB stay out of the large-object heap: growing leaves no freed arrays behind there.
    private const int ChunkShift = 13;
    private const int ChunkSize = 1 << ChunkShift;
    private readonly List<ulong[]> _chunks = [];

    /// <summary>How many hashes were added.</summary>
    public int Count { get; private set; }

    public void Add(ulong hash)
    {
        if ((Count & (ChunkSize - 1)) == 0)
        {
            _chunks.Add(new ulong[ChunkSize]);
        }

        _chunks[^1][Count & (ChunkSize - 1)] = hash;
        Count++;
    }

    /// <summary>The hashes added more than once; empty when all are distinct.</summary>
    public IReadOnlySet<ulong> Repeated()
    {
        var sorted = new ulong[Count];
        for (var i = 0; i < _chunks.Count; i++)
        {
            var length = Math.Min(ChunkSize, Count - (i << ChunkShift));
            _chunks[i].AsSpan(0, length).CopyTo(sorted.AsSpan(i << ChunkShift));
        }

        Array.Sort(sorted);
        var repeated = new HashSet<ulong>();
        for (var i = 1; i < sorted.Length; i++)
        {
            if (sorted[i] == sorted[i - 1])
            {
                repeated.Add(sorted[i]);
            }
        }

        return repeated;
    }

    /// <summary>FNV-1a, 64 bits, over the key's UTF-16 code units.</summary>
    public static ulong Hash(string key)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in key)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return hash;
    }
}
