namespace PlaybookRunner.Core.Sources;

/// <summary>
/// The 64-bit hashes of the keys a source has produced, in one open-addressed array (8 bytes a slot,
/// at most half full): about 16 bytes a record, a quarter of a <see cref="HashSet{T}"/> of the same
/// hashes during its growth. Hash 0 is stored as 1; a collision only costs the caller a re-check.
/// </summary>
internal sealed class KeyHashSet
{
    private ulong[] _slots = new ulong[1024];
    private int _count;

    /// <summary>Adds a hash; false when it was already there.</summary>
    public bool Add(ulong hash)
    {
        if (hash == 0)
        {
            hash = 1;
        }

        if ((_count + 1) * 2 > _slots.Length)
        {
            Grow();
        }

        if (!Insert(_slots, hash))
        {
            return false;
        }

        _count++;
        return true;
    }

    private static bool Insert(ulong[] slots, ulong hash)
    {
        var mask = slots.Length - 1;
        // Fibonacci hashing spreads keys that differ only in their last characters (C0000001, C0000002).
        var start = (int)((hash * 0x9E3779B97F4A7C15UL) >> (64 - System.Numerics.BitOperations.Log2((uint)slots.Length)));
        for (var i = start; ; i = (i + 1) & mask)
        {
            if (slots[i] == hash)
            {
                return false;
            }

            if (slots[i] == 0)
            {
                slots[i] = hash;
                return true;
            }
        }
    }

    private void Grow()
    {
        var larger = new ulong[_slots.Length * 2];
        foreach (var hash in _slots)
        {
            if (hash != 0)
            {
                Insert(larger, hash);
            }
        }

        _slots = larger;
    }
}
