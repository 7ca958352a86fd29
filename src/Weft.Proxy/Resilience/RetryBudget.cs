namespace Weft.Proxy.Resilience;

/// <summary>
/// Linkerd's retry budget: over a sliding window, retries may add at most <see cref="Ratio"/> of the requests plus
/// <see cref="MinPerSecond"/> per second. A fleet that is failing then gets a bounded amount of extra load instead of a
/// retry storm. Lock-free: one-second buckets stamped with their second, stale buckets reset on use.
/// </summary>
internal sealed class RetryBudget
{
    public const double Ratio = 0.2;
    public const int MinPerSecond = 10;
    public const int WindowSeconds = 10;

    private readonly TimeProvider _time;
    private readonly long[] _stamp = new long[WindowSeconds];
    private readonly long[] _requests = new long[WindowSeconds];
    private readonly long[] _retries = new long[WindowSeconds];
    private long _exhausted;

    public RetryBudget(TimeProvider time) => _time = time;

    /// <summary>How many retries the budget refused, for metrics.</summary>
    public long Exhausted => Interlocked.Read(ref _exhausted);

    public void RecordRequest() => Interlocked.Increment(ref _requests[Bucket()]);

    /// <summary>Spends one retry if the window allows it.</summary>
    public bool TryRetry()
    {
        var now = Bucket();
        long requests = 0, retries = 0;
        var second = Second();
        for (var i = 0; i < WindowSeconds; i++)
        {
            if (second - Volatile.Read(ref _stamp[i]) >= WindowSeconds)
                continue;
            requests += Volatile.Read(ref _requests[i]);
            retries += Volatile.Read(ref _retries[i]);
        }

        if (retries + 1 > requests * Ratio + MinPerSecond * WindowSeconds)
        {
            Interlocked.Increment(ref _exhausted);
            return false;
        }

        Interlocked.Increment(ref _retries[now]);
        return true;
    }

    // The monotonic clock's seconds (a wall clock set back would reuse buckets): a timestamp is one read of the sidecar's
    // clock, often none on an engine's thread (see Net.EngineClock), where the wall clock was one more per request.
    private long Second() => _time.GetTimestamp() / _time.TimestampFrequency;

    private int Bucket()
    {
        var second = Second();
        var i = (int)(second % WindowSeconds);
        var stamp = Volatile.Read(ref _stamp[i]);
        if (stamp != second && Interlocked.CompareExchange(ref _stamp[i], second, stamp) == stamp)
        {
            // A few counts racing the reset land in the new second; the budget is an estimate, not an invoice.
            Interlocked.Exchange(ref _requests[i], 0);
            Interlocked.Exchange(ref _retries[i], 0);
        }

        return i;
    }
}
