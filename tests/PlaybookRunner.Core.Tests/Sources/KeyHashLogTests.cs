using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Core.Tests.Sources;

public sealed class KeyHashLogTests
{
    [Fact]
    public void Finds_exactly_the_repeated_hashes_across_growth()
    {
        var log = new KeyHashLog();
        foreach (var i in Enumerable.Range(0, 100_000))
        {
            log.Add((ulong)i * 0x100000001UL);
        }

        log.Add(0);
        log.Add(99_999UL * 0x100000001UL);
        log.Add(ulong.MaxValue);

        Assert.Equal(100_003, log.Count);
        Assert.Equal([0UL, 99_999UL * 0x100000001UL], log.Repeated().Order());
    }

    [Fact]
    public void Distinct_keys_have_no_repeat()
    {
        var log = new KeyHashLog();
        foreach (var key in new[] { "C0000001", "C0000002", "c0000001", "" })
        {
            log.Add(KeyHashLog.Hash(key));
        }

        Assert.Empty(log.Repeated());
    }
}
