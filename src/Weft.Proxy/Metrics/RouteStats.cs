using System.Collections.Concurrent;
using Weft.Core.Metrics;

namespace Weft.Proxy.Metrics;

/// <summary>Which way a request crossed the sidecar.</summary>
internal static class Directions
{
    public const string Inbound = "inbound";
    public const string Outbound = "outbound";
}

/// <summary>
/// Counters of one (direction, upstream service, route, peer): requests by status code, a latency histogram, retries
/// and how the retried requests ended, budget exhaustions, timeouts, breaker rejections. Interlocked only; one
/// instance lives across snapshots. <see cref="Service"/> is the upstream for outbound routes and this sidecar's own
/// service for inbound ones; <see cref="Peer"/> is the other end (the upstream, or the caller's identity inbound).
/// </summary>
internal sealed class RouteStats
{
    /// <summary>Peer of an inbound request whose caller presented no workload identity.</summary>
    public const string UnknownPeer = "unknown";

    private const int CodeSlots = 501; // 0: no status (the caller went away) or out of range; 1..500: 100..599

    private readonly long[] _byCode = new long[CodeSlots];
    private readonly ConcurrentDictionary<string, RouteStats> _byPeer = new(StringComparer.Ordinal);
    private long _retries;
    private long _retriedSucceeded;
    private long _retriedFailed;
    private long _weftErrors;
    private long _budgetExhausted;
    private long _timeouts;
    private long _overflows;

    public RouteStats(string direction, string service, string route, string? peer = null)
    {
        Direction = direction;
        Service = service;
        Route = route;
        Peer = peer ?? (direction == Directions.Outbound && service.Length > 0 ? service : UnknownPeer);
    }

    public string Direction { get; }
    public string Service { get; }
    public string Route { get; }
    public string Peer { get; }

    public Histogram Latency { get; } = new();

    /// <summary>The same route's counters for one calling peer (inbound, once callers present identities).</summary>
    public RouteStats ForPeer(string peer) =>
        peer == Peer ? this : _byPeer.GetOrAdd(peer, static (p, self) => new RouteStats(self.Direction, self.Service, self.Route, p), this);

    /// <summary>This route's counters per calling peer, itself included.</summary>
    public IEnumerable<RouteStats> PerPeer => _byPeer.IsEmpty ? [this] : _byPeer.Values.Prepend(this);

    /// <summary>Requests that ended with <paramref name="code"/>; 0 counts those that ended with no status.</summary>
    public long RequestsWithCode(int code) => Interlocked.Read(ref _byCode[Slot(code)]);

    /// <summary>Index 0 counts requests that ended with no status (the caller went away); 1..5 count 1xx..5xx.</summary>
    public long Requests(int statusClass)
    {
        if (statusClass == 0)
            return Interlocked.Read(ref _byCode[0]);
        long n = 0;
        var from = Slot(statusClass * 100);
        for (var i = from; i < from + 100; i++)
            n += Interlocked.Read(ref _byCode[i]);
        return n;
    }

    /// <summary>Status codes seen so far, for the exporter.</summary>
    public IEnumerable<(int Code, long Count)> Codes()
    {
        for (var i = 0; i < CodeSlots; i++)
        {
            var n = Interlocked.Read(ref _byCode[i]);
            if (n > 0)
                yield return (i == 0 ? 0 : i + 99, n);
        }
    }

    public long Bucket(int i) => Latency.Bucket(i);
    public TimeSpan LatencySum => TimeSpan.FromSeconds(Latency.SumSeconds);
    public long Retries => Interlocked.Read(ref _retries);
    public long RetriedSucceeded => Interlocked.Read(ref _retriedSucceeded);
    public long RetriedFailed => Interlocked.Read(ref _retriedFailed);
    public long BudgetExhausted => Interlocked.Read(ref _budgetExhausted);
    public long Timeouts => Interlocked.Read(ref _timeouts);
    public long Overflows => Interlocked.Read(ref _overflows);

    /// <summary>Requests answered below 500 with an <c>x-weft-error</c> (intention-denied, unknown-upstream): no success.</summary>
    public long WeftErrors => Interlocked.Read(ref _weftErrors);

    public void WeftError() => Interlocked.Increment(ref _weftErrors);

    public void Record(int status, TimeSpan latency)
    {
        Interlocked.Increment(ref _byCode[Slot(status)]);
        Latency.Observe(latency);
    }

    /// <summary>How a request that was retried at least once ended: a response below 500, or not.</summary>
    public void Retried(bool succeeded)
    {
        if (succeeded)
            Interlocked.Increment(ref _retriedSucceeded);
        else
            Interlocked.Increment(ref _retriedFailed);
    }

    public void Retry() => Interlocked.Increment(ref _retries);
    public void BudgetExhaustion() => Interlocked.Increment(ref _budgetExhausted);
    public void Timeout() => Interlocked.Increment(ref _timeouts);
    public void Overflow() => Interlocked.Increment(ref _overflows);

    private static int Slot(int status) => status is >= 100 and <= 599 ? status - 99 : 0;
}
