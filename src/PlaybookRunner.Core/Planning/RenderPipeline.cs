using System.Diagnostics;

namespace PlaybookRunner.Core.Planning;

/// <summary>
/// Renders one playbook's findings on a thread of its own (<see cref="OrderedWorker{T}"/>) while the evaluation goes on
/// with the next records, in the order they fired: the plan is the same as when each finding is rendered as it fires.
/// A playbook with fewer findings than a batch starts no thread: its findings are rendered on the evaluating thread when
/// the records end. The time rendering takes is left out of the evaluation's budget and watchdog.
/// </summary>
internal sealed class RenderPipeline : IFindingHandler, IDisposable
{
    private readonly OrderedWorker<(RawFinding Finding, object?[] Lets)> _worker;
    private long _rendering;

    public RenderPipeline(Action<RawFinding, object?[]> render)
    {
        _worker = new(item => render(item.Finding, item.Lets), "playbook render") { Worked = Rendered };
    }

    public IEvaluationClock? Clock { get; set; }

    public void Found(RawFinding finding, object?[] lets)
    {
        if (_worker.Post((finding, lets)) is > 0 and var waited)
        {
            // The evaluation waited for the rendering thread, which tells the watchdog its time itself.
            Clock?.BudgetNotCounted(waited);
        }
    }

    public void Finish()
    {
        var started = Stopwatch.GetTimestamp();
        var rendersHere = !_worker.Started;
        try
        {
            _worker.Drain();
        }
        finally
        {
            var ticks = Stopwatch.GetTimestamp() - started;
            if (rendersHere)
            {
                Clock?.NotCounted(ticks);
            }
            else
            {
                Clock?.BudgetNotCounted(ticks);
            }
        }
    }

    public void Dispose() => _worker.Dispose();

    /// <summary>On the rendering thread: whole milliseconds to the watchdog, the rest carried over (a batch takes about one).</summary>
    private void Rendered(long ticks)
    {
        _rendering += ticks;
        var milliseconds = _rendering * 1000 / Stopwatch.Frequency;
        _rendering -= milliseconds * Stopwatch.Frequency / 1000;
        Clock?.WatchdogNotCounted(milliseconds);
    }
}
