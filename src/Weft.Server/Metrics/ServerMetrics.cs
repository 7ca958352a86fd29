using System.Collections.Concurrent;
using Weft.Core.Metrics;

namespace Weft.Server.Metrics;

/// <summary>
/// The control plane's own counters, fed where the events happen (the catalog writer, the proxy stream, blocking
/// queries) and read by <c>/metrics</c>. Interlocked only; nothing here waits.
/// </summary>
internal sealed class ServerMetrics
{
    private readonly ConcurrentDictionary<string, StrongBox> _transitions = new(StringComparer.Ordinal);
    private long _registrations;
    private long _deregistrations;
    private long _pushes;
    private long _blockingQueries;

    public long Registrations => Interlocked.Read(ref _registrations);
    public long Deregistrations => Interlocked.Read(ref _deregistrations);
    public long Pushes => Interlocked.Read(ref _pushes);

    /// <summary>Blocking queries waiting for a change now.</summary>
    public long BlockingQueries => Interlocked.Read(ref _blockingQueries);

    /// <summary>Check status changes by the status they changed to (passing, warning, critical, maintenance).</summary>
    public IEnumerable<(string Status, long Count)> HealthTransitions =>
        _transitions.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => (t.Key, Interlocked.Read(ref t.Value.Value)));

    /// <summary>Time for the store to make one batch of writes durable.</summary>
    public Histogram StoreCommit { get; } = new();

    /// <summary>Time to build and write one snapshot or delta to a proxy stream.</summary>
    public Histogram Push { get; } = new();

    /// <summary>
    /// Per delta written: from the store commit of the oldest change it carries to the end of its write to the stream (the
    /// coalescing wait, the build and the write). Snapshots carry no commit and are not counted.
    /// </summary>
    public Histogram PushLatency { get; } = new();

    public void Registered() => Interlocked.Increment(ref _registrations);
    public void Deregistered() => Interlocked.Increment(ref _deregistrations);

    public void HealthTransition(string to) =>
        Interlocked.Increment(ref _transitions.GetOrAdd(to, static _ => new StrongBox()).Value);

    public void Pushed(TimeSpan took)
    {
        Interlocked.Increment(ref _pushes);
        Push.Observe(took);
    }

    public void BlockingQueryStarted() => Interlocked.Increment(ref _blockingQueries);
    public void BlockingQueryEnded() => Interlocked.Decrement(ref _blockingQueries);

    private sealed class StrongBox
    {
        public long Value;
    }
}
