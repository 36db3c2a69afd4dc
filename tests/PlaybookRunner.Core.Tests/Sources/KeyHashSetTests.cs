using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Core.Tests.Sources;

public sealed class KeyHashSetTests
{
    [Fact]
    public void Finds_every_repeat_across_growth_including_hash_zero()
    {
        var set = new KeyHashSet();
        var hashes = Enumerable.Range(0, 100_000).Select(i => (ulong)i * 0x100000001UL).ToList();
        Assert.All(hashes, h => Assert.True(set.Add(h)));
        Assert.All(hashes, h => Assert.False(set.Add(h)));
        // 0 is stored as 1, so the two count as one (the caller re-checks a repeat against the data).
        Assert.False(set.Add(1));
        Assert.True(set.Add(ulong.MaxValue));
    }
}
