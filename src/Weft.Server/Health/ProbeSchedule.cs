namespace Weft.Server.Health;

/// <summary>A check that runs a probe every interval.</summary>
internal interface IPeriodicProbe
{
    /// <summary>True once the check is removed or replaced; the schedule then drops it.</summary>
    bool Stopped { get; }

    /// <summary>Starts one probe. Called on the schedule's thread: it must return quickly and not throw.</summary>
    void Fire();
}

/// <summary>
/// Every interval check on one timer of the injected <see cref="TimeProvider"/>, firing at most once per
/// <see cref="Tick"/> and starting all the probes due by then. Ten thousand checks at 10 s are a thousand probes a
/// second; with a timer each, every probe cost a wake of the runtime's timer thread, a walk of its timer list and a
/// thread-pool hand-off of its own. Here they cost 40 wakes a second in all. A probe starts at most one tick late,
/// never early. Each check keeps its own phase (its random start within the first interval) and runs every
/// interval from there, skipping the runs it missed if the process was paused.
/// </summary>
internal sealed class ProbeSchedule : IDisposable
{
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(25);

    /// <summary>Stopped entries tolerated in the queue (beyond half its size) before they are shed.</summary>
    private const int MaxStopped = 1024;

    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly PriorityQueue<Entry, long> _due = new();
    private readonly Lock _lock = new();
    private readonly long _tick;
    private long _armedFor = long.MaxValue;
    private long _lastFired = long.MinValue / 2;
    private bool _disposed;
    private long _firings;
    private int _stopped;

    public ProbeSchedule(TimeProvider time)
    {
        _time = time;
        _tick = ToTimestamp(Tick);
        _timer = time.CreateTimer(static s => ((ProbeSchedule)s!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Entries held, including stopped ones not yet dropped (for tests).</summary>
    public int Count
    {
        get
        {
            lock (_lock) return _due.Count;
        }
    }

    /// <summary>How often the timer has fired (for tests).</summary>
    public long Firings => Interlocked.Read(ref _firings);

    /// <summary>Runs <paramref name="probe"/> after <paramref name="first"/>, then every <paramref name="interval"/>.</summary>
    public void Add(IPeriodicProbe probe, TimeSpan first, TimeSpan interval)
    {
        var entry = new Entry(probe, Math.Max(ToTimestamp(interval), _tick));
        lock (_lock)
        {
            if (_disposed) return;
            var now = _time.GetTimestamp();
            _due.Enqueue(entry, now + Math.Max(0, ToTimestamp(first)));
            ArmLocked(now);
        }
    }

    /// <summary>
    /// Says that a probe added earlier has stopped. Its entry leaves at its next due time; should stopped entries
    /// pile up first (checks re-registered with new definitions faster than their intervals run out), the
    /// schedule sheds them all at once.
    /// </summary>
    public void Stopped()
    {
        lock (_lock)
        {
            if (++_stopped <= Math.Max(MaxStopped, _due.Count / 2)) return;
            var live = _due.UnorderedItems.Where(item => !item.Element.Probe.Stopped).ToList();
            _due.Clear();
            _due.EnqueueRange(live);
            _stopped = 0;
        }
    }

    private void OnTimer()
    {
        List<IPeriodicProbe>? firing = null;
        lock (_lock)
        {
            if (_disposed) return;
            var now = _time.GetTimestamp();
            _firings++;
            _armedFor = long.MaxValue;
            while (_due.TryPeek(out var entry, out var at) && at <= now)
            {
                // A timer that woke a little before the clock reached the first entry sets no floor: re-armed for
                // that entry, it fires again at once instead of a tick later.
                _lastFired = now;
                _due.Dequeue();
                if (entry.Probe.Stopped)
                {
                    if (_stopped > 0) _stopped--;
                    continue;
                }
                (firing ??= []).Add(entry.Probe);
                var next = at + entry.Interval;
                if (next <= now) next += ((now - next) / entry.Interval + 1) * entry.Interval;
                _due.Enqueue(entry, next);
            }

            ArmLocked(now);
        }

        // Outside the lock: a probe that completes at once goes on to write its result.
        if (firing is null) return;
        foreach (var probe in firing) probe.Fire();
    }

    /// <summary>Sets the timer for the earliest entry, but no sooner than a tick after the last firing.</summary>
    private void ArmLocked(long now)
    {
        if (!_due.TryPeek(out _, out var at)) return;
        var fireAt = Math.Max(at, _lastFired + _tick);
        if (fireAt >= _armedFor) return;
        _armedFor = fireAt;
        _timer.Change(TimeSpan.FromTicks(Math.Max(0, (long)((fireAt - now) * (double)TimeSpan.TicksPerSecond / _time.TimestampFrequency))), Timeout.InfiniteTimeSpan);
    }

    private long ToTimestamp(TimeSpan span) => (long)(span.Ticks * (double)_time.TimestampFrequency / TimeSpan.TicksPerSecond);

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _due.Clear();
        }

        _timer.Dispose();
    }

    private sealed record Entry(IPeriodicProbe Probe, long Interval);
}
