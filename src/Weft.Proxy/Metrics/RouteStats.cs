namespace Weft.Proxy.Metrics;

/// <summary>Which way a request crossed the sidecar.</summary>
internal static class Directions
{
    public const string Inbound = "inbound";
    public const string Outbound = "outbound";
}

/// <summary>
/// Counters of one (direction, upstream service, route): requests by status class, latency sum and histogram, retries,
/// budget exhaustions, timeouts, breaker rejections. Interlocked only; one instance lives across snapshots.
/// </summary>
internal sealed class RouteStats
{
    /// <summary>Upper bounds of the latency buckets in milliseconds; one more bucket counts the rest.</summary>
    public static readonly double[] BucketBoundsMs = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

    private readonly long[] _byClass = new long[6];
    private readonly long[] _buckets = new long[BucketBoundsMs.Length + 1];
    private long _latencyTicks;
    private long _retries;
    private long _budgetExhausted;
    private long _timeouts;
    private long _overflows;

    public RouteStats(string direction, string service, string route)
    {
        Direction = direction;
        Service = service;
        Route = route;
    }

    public string Direction { get; }
    public string Service { get; }
    public string Route { get; }

    /// <summary>Index 0 counts requests that ended with no status (the caller went away); 1..5 count 1xx..5xx.</summary>
    public long Requests(int statusClass) => Interlocked.Read(ref _byClass[statusClass]);

    public long Bucket(int i) => Interlocked.Read(ref _buckets[i]);
    public TimeSpan LatencySum => TimeSpan.FromTicks(Interlocked.Read(ref _latencyTicks));
    public long Retries => Interlocked.Read(ref _retries);
    public long BudgetExhausted => Interlocked.Read(ref _budgetExhausted);
    public long Timeouts => Interlocked.Read(ref _timeouts);
    public long Overflows => Interlocked.Read(ref _overflows);

    public void Record(int status, TimeSpan latency)
    {
        var statusClass = status / 100;
        if ((uint)statusClass > 5)
            statusClass = 0;
        Interlocked.Increment(ref _byClass[statusClass]);
        Interlocked.Add(ref _latencyTicks, latency.Ticks);
        var ms = latency.TotalMilliseconds;
        var i = 0;
        while (i < BucketBoundsMs.Length && ms > BucketBoundsMs[i])
            i++;
        Interlocked.Increment(ref _buckets[i]);
    }

    public void Retry() => Interlocked.Increment(ref _retries);
    public void BudgetExhaustion() => Interlocked.Increment(ref _budgetExhausted);
    public void Timeout() => Interlocked.Increment(ref _timeouts);
    public void Overflow() => Interlocked.Increment(ref _overflows);
}
