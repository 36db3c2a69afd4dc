using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;

namespace PlaybookRunner.Core.Planning;

/// <summary>
/// Does work on items on a thread of its own, one item at a time in the order they were posted, while the posting thread
/// goes on. Items are handed over in batches of <see cref="BatchSize"/>, at most <see cref="BatchesAhead"/> batches ahead
/// (the poster waits beyond that, so what is in flight is bounded). The thread starts with the first full batch: a few
/// items are done on the posting thread by <see cref="Drain"/>. Work that throws stops the thread's work (later batches are
/// taken and dropped, so the poster never waits on a full queue) and is thrown once to the poster, at its next post or drain.
/// The thread sees the invariant culture, as expressions and templates do.
/// </summary>
internal sealed class OrderedWorker<T>(Action<T> work, string name) : IDisposable
{
    /// <summary>Items handed over at a time.</summary>
    public const int BatchSize = 256;

    /// <summary>Batches the poster may be ahead of the work before it waits.</summary>
    public const int BatchesAhead = 4;

    private T[] _batch = new T[BatchSize];
    private int _used;
    // Batches handed over, guarded by their own lock: waits block at once (Monitor.Wait), with no spinning that
    // would take a core from the threads doing the work.
    private readonly Queue<(T[] Items, int Count)> _queue = new();
    private bool _completed;
    private Thread? _thread;
    private ExceptionDispatchInfo? _failure;
    private volatile bool _broken;
    private volatile bool _stopping;
    private bool _disposed;

    /// <summary>Told, on the worker's thread, the stopwatch ticks each batch took.</summary>
    public Action<long>? Worked { get; init; }

    /// <summary>True once the work runs on its own thread.</summary>
    public bool Started => _thread is not null;

    /// <summary>Hands <paramref name="item"/> over; returns the stopwatch ticks spent waiting for the work to catch up (usually none).</summary>
    public long Post(T item)
    {
        ThrowFailure();
        _batch[_used++] = item;
        return _used == BatchSize ? Hand() : 0;
    }

    /// <summary>Every item posted is done when this returns (on this thread when the worker never started); throws what the work threw.</summary>
    public void Drain()
    {
        if (_thread is null)
        {
            var (batch, used) = (_batch, _used);
            _used = 0;
            var (culture, uiCulture) = (CultureInfo.CurrentCulture, CultureInfo.CurrentUICulture);
            try
            {
                CultureInfo.CurrentCulture = CultureInfo.CurrentUICulture = CultureInfo.InvariantCulture;
                DoAll(batch, used);
            }
            finally
            {
                (CultureInfo.CurrentCulture, CultureInfo.CurrentUICulture) = (culture, uiCulture);
            }

            return;
        }

        if (!Completed)
        {
            if (_used > 0)
            {
                Hand();
            }

            Complete();
        }

        _thread.Join();
        ThrowFailure();
    }

    /// <summary>Stops the worker's thread without doing what is left (the poster ended with an exception, or gave up).</summary>
    public void Dispose()
    {
        if (_thread is null || _disposed)
        {
            return;
        }

        _disposed = true;
        _stopping = true;
        Complete();
        _thread.Join();
    }

    private bool Completed
    {
        get
        {
            lock (_queue)
            {
                return _completed;
            }
        }
    }

    private void Complete()
    {
        lock (_queue)
        {
            _completed = true;
            Monitor.PulseAll(_queue);
        }
    }

    private long Hand()
    {
        if (_thread is null)
        {
            _thread = new Thread(Work) { IsBackground = true, Name = name };
            _thread.Start();
        }

        var waited = 0L;
        lock (_queue)
        {
            if (_queue.Count >= BatchesAhead)
            {
                var started = Stopwatch.GetTimestamp();
                while (_queue.Count >= BatchesAhead)
                {
                    Monitor.Wait(_queue);
                }

                waited = Stopwatch.GetTimestamp() - started;
            }

            _queue.Enqueue((_batch, _used));
            if (_queue.Count == 1)
            {
                Monitor.PulseAll(_queue);
            }
        }

        _batch = new T[BatchSize];
        _used = 0;
        return waited;
    }

    private void Work()
    {
        CultureInfo.CurrentCulture = CultureInfo.CurrentUICulture = CultureInfo.InvariantCulture;
        while (Take() is var (items, count) && items is not null)
        {
            if (_broken || _stopping)
            {
                continue;
            }

            var started = Stopwatch.GetTimestamp();
            try
            {
                DoAll(items, count);
            }
            catch (Exception ex)
            {
                _failure = ExceptionDispatchInfo.Capture(ex);
                _broken = true;
            }
            finally
            {
                Worked?.Invoke(Stopwatch.GetTimestamp() - started);
            }
        }
    }

    /// <summary>The next batch, waiting for one; (null, 0) once the poster has completed and every batch is taken.</summary>
    private (T[]? Items, int Count) Take()
    {
        lock (_queue)
        {
            while (_queue.Count == 0 && !_completed)
            {
                Monitor.Wait(_queue);
            }

            if (_queue.Count == 0)
            {
                return (null, 0);
            }

            var batch = _queue.Dequeue();
            if (_queue.Count == BatchesAhead - 1)
            {
                // The poster may be waiting for room.
                Monitor.PulseAll(_queue);
            }

            return batch;
        }
    }

    private void DoAll(T[] items, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var item = items[i];
            items[i] = default!;
            work(item);
        }
    }

    private void ThrowFailure()
    {
        if (_broken && Interlocked.Exchange(ref _failure, null) is { } failure)
        {
            failure.Throw();
        }
    }
}
