using System.Globalization;
using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Core.Tests.Planning;

/// <summary>
/// The thread a large plan renders its findings on, and the one it spills them on (<see cref="OrderedWorker{T}"/>): items
/// done in the order posted, a failure thrown once to the poster without ever leaving it waiting, and the invariant culture.
/// </summary>
public sealed class OrderedWorkerTests
{
    [Fact]
    public void Items_are_done_in_the_order_posted_on_a_thread_of_their_own()
    {
        var done = new List<int>();
        var threads = new HashSet<int>();
        using var worker = new OrderedWorker<int>(i => { done.Add(i); threads.Add(Environment.CurrentManagedThreadId); }, "test worker");

        for (var i = 0; i < 10_000; i++)
        {
            worker.Post(i);
        }

        worker.Drain();

        Assert.True(worker.Started);
        Assert.Equal(Enumerable.Range(0, 10_000), done);
        Assert.DoesNotContain(Environment.CurrentManagedThreadId, threads);
    }

    [Fact]
    public void Fewer_items_than_a_batch_are_done_by_drain_on_the_posting_thread()
    {
        var done = new List<(int Item, int Thread)>();
        using var worker = new OrderedWorker<int>(i => done.Add((i, Environment.CurrentManagedThreadId)), "test worker");

        worker.Post(1);
        worker.Post(2);
        Assert.Empty(done);
        worker.Drain();
        worker.Drain();

        Assert.False(worker.Started);
        Assert.Equal([(1, Environment.CurrentManagedThreadId), (2, Environment.CurrentManagedThreadId)], done);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(300)]
    [InlineData(4_000)]
    public void A_failure_is_thrown_once_to_the_poster_and_the_poster_never_waits_for_ever(int failingItem)
    {
        var done = 0;
        using var worker = new OrderedWorker<int>(i =>
        {
            if (i == failingItem)
            {
                throw new IOException($"no room for item {i}");
            }

            done++;
        }, "test worker");
        var thrown = new List<string>();

        // Far more batches than the queue holds are posted after the failure: none of them may block.
        for (var i = 0; i < 20_000; i++)
        {
            try
            {
                worker.Post(i);
            }
            catch (IOException ex)
            {
                thrown.Add(ex.Message);
            }
        }

        try
        {
            worker.Drain();
        }
        catch (IOException ex)
        {
            thrown.Add(ex.Message);
        }

        Assert.Equal([$"no room for item {failingItem}"], thrown);
        Assert.True(done <= failingItem + OrderedWorker<int>.BatchSize, $"{done} items done after the failure at {failingItem}");
    }

    [Fact]
    public void The_work_sees_the_invariant_culture_whatever_the_posters()
    {
        var cultures = new HashSet<string>();
        var before = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = new CultureInfo("de-DE");
        try
        {
            using var few = new OrderedWorker<decimal>(d => cultures.Add(CultureInfo.CurrentCulture.Name + d.ToString(CultureInfo.CurrentCulture)), "test worker");
            few.Post(1.5m);
            few.Drain();
            using var many = new OrderedWorker<decimal>(d => cultures.Add(CultureInfo.CurrentCulture.Name + d.ToString(CultureInfo.CurrentCulture)), "test worker");
            for (var i = 0; i < 1_000; i++)
            {
                many.Post(1.5m);
            }

            many.Drain();
            Assert.Equal("de-DE", CultureInfo.CurrentCulture.Name);
        }
        finally
        {
            CultureInfo.CurrentCulture = before;
        }

        Assert.Equal(["1.5"], cultures);
    }

    [Fact]
    public void Dispose_stops_the_thread_without_doing_what_is_left()
    {
        var done = 0;
        var worker = new OrderedWorker<int>(_ => { Thread.Sleep(1); Interlocked.Increment(ref done); }, "test worker");
        for (var i = 0; i < 1_000; i++)
        {
            worker.Post(i);
        }

        worker.Dispose();
        worker.Dispose();

        Assert.True(worker.Started);
        Assert.True(Volatile.Read(ref done) < 1_000, $"{done} items done");
    }
}
