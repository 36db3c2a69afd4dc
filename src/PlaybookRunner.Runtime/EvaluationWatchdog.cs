using System.Collections.Concurrent;
using System.Globalization;

namespace PlaybookRunner.Runtime;

/// <summary>
/// The last line of the time budget for one-shot commands (plan, run, test, explain and the daemon's
/// worker): the budget is checked between records and inside lambdas, but one allowed call (a search in
/// a huge string) cannot be interrupted. When an evaluation is still running <see cref="Grace"/> after
/// its budget, the host's stop action ends the process with a diagnostic, instead of running on for
/// minutes. Off unless a host enables it (the daemon itself never does: it must stay up).
/// </summary>
internal static class EvaluationWatchdog
{
    /// <summary>How long past its budget an evaluation may run before the process is stopped.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(10);

    private static readonly ConcurrentDictionary<long, (string Playbook, long Budget, long HardDeadline, bool Paused)> Running = new();
    private static Action<string>? _stop;
    private static Timer? _timer;
    private static long _next;

    /// <summary>Turns the watchdog on; <paramref name="stop"/> reports the message and ends the process.</summary>
    public static void Enable(Action<string> stop)
    {
        _stop = stop;
        _timer ??= new Timer(_ => Check(), null, TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(500));
    }

    /// <summary>Watches one evaluation until the returned handle is disposed; null when the watchdog is off.</summary>
    public static Handle? Watch(string playbook, TimeSpan budget)
    {
        if (_stop is null)
        {
            return null;
        }

        var id = Interlocked.Increment(ref _next);
        Running[id] = (playbook, (long)budget.TotalMilliseconds, Environment.TickCount64 + (long)(budget + Grace).TotalMilliseconds, false);
        return new Handle(id);
    }

    private static void Check()
    {
        var now = Environment.TickCount64;
        foreach (var (_, (playbook, budget, hardDeadline, paused)) in Running)
        {
            if (!paused && now > hardDeadline)
            {
                _stop?.Invoke(string.Create(CultureInfo.InvariantCulture,
                    $"playbook: error PB5003: Evaluation of playbook '{playbook}' exceeded its time budget of {budget} ms and was still running {Grace.TotalSeconds:0} s later (one long call no check can interrupt); the process was stopped"));
                return;
            }
        }
    }

    /// <summary>One watched evaluation.</summary>
    public sealed class Handle(long id) : IDisposable
    {
        // The evaluating thread and a rendering thread may both move the deadline.
        private readonly Lock _lock = new();

        /// <summary>Moves the hard deadline <paramref name="milliseconds"/> later (time the evaluation spent on what its budget does not count); from any thread.</summary>
        public void Extend(long milliseconds)
        {
            if (milliseconds > 0)
            {
                Update(entry => entry with { HardDeadline = entry.HardDeadline + milliseconds });
            }
        }

        /// <summary>The evaluation waits for its source: not stopped until <see cref="Resume"/> (which the wait is then added by <see cref="Extend"/>).</summary>
        public void Pause() => Update(entry => entry with { Paused = true });

        /// <summary>The wait for the source is over.</summary>
        public void Resume() => Update(entry => entry with { Paused = false });

        private void Update(Func<(string Playbook, long Budget, long HardDeadline, bool Paused), (string, long, long, bool)> change)
        {
            lock (_lock)
            {
                if (Running.TryGetValue(id, out var entry))
                {
                    Running[id] = change(entry);
                }
            }
        }

        public void Dispose() => Running.TryRemove(id, out _);
    }
}
