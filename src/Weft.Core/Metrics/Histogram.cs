namespace Weft.Core.Metrics;

/// <summary>
/// A lock-free latency histogram: fixed bucket bounds, one <see cref="Interlocked"/> add per bucket and one for the
/// sum. Observations are compared in ticks, so the request path does no floating point.
/// </summary>
internal sealed class Histogram
{
    /// <summary>100 µs to 30 s: a sidecar hop on loopback lands in the first buckets, a slow upstream in the last.</summary>
    public static readonly double[] LatencyBoundsSeconds =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private readonly long[] _boundTicks;
    private readonly long[] _buckets;
    private long _sumTicks;

    public Histogram() : this(LatencyBoundsSeconds)
    {
    }

    public Histogram(double[] boundsSeconds)
    {
        BoundsSeconds = boundsSeconds;
        _boundTicks = Array.ConvertAll(boundsSeconds, s => (long)Math.Round(s * TimeSpan.TicksPerSecond));
        _buckets = new long[boundsSeconds.Length + 1];
    }

    public double[] BoundsSeconds { get; }

    /// <summary>Observations in bucket <paramref name="i"/> alone (not cumulative); the last one is above every bound.</summary>
    public long Bucket(int i) => Interlocked.Read(ref _buckets[i]);

    public double SumSeconds => (double)Interlocked.Read(ref _sumTicks) / TimeSpan.TicksPerSecond;

    public long Count
    {
        get
        {
            long n = 0;
            for (var i = 0; i < _buckets.Length; i++)
                n += Interlocked.Read(ref _buckets[i]);
            return n;
        }
    }

    public void Observe(TimeSpan value)
    {
        var ticks = value.Ticks;
        var bounds = _boundTicks;
        var i = 0;
        while (i < bounds.Length && ticks > bounds[i])
            i++;
        Interlocked.Increment(ref _buckets[i]);
        Interlocked.Add(ref _sumTicks, ticks);
    }
}
