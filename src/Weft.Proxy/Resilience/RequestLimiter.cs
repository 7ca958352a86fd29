namespace Weft.Proxy.Resilience;

/// <summary>
/// The circuit breaker of one cluster, Envoy's meaning: beyond the limit the sidecar fails fast with 503 instead of
/// queueing. The limit is <c>MaxConcurrentRequests</c>, or when <c>MaxConnections</c> and <c>MaxPendingRequests</c>
/// are both set, no more than connections + pending may be in flight (the pool is not observable from here, so
/// pending is counted as in-flight beyond the connection limit). Kept across snapshots; limits change in place.
/// </summary>
internal sealed class RequestLimiter
{
    private int _active;
    private int _limit = int.MaxValue;
    private long _rejected;

    public int Active => Volatile.Read(ref _active);
    public int Limit => Volatile.Read(ref _limit);
    public long Rejected => Interlocked.Read(ref _rejected);

    public void SetLimits(int? maxConcurrent, int? maxConnections, int? maxPending)
    {
        var limit = maxConcurrent is > 0 ? maxConcurrent.Value : int.MaxValue;
        if (maxConnections is > 0 && maxPending is >= 0)
            limit = Math.Min(limit, maxConnections.Value + maxPending.Value);
        Volatile.Write(ref _limit, limit);
    }

    public bool TryEnter()
    {
        if (Interlocked.Increment(ref _active) <= Volatile.Read(ref _limit))
            return true;
        Interlocked.Decrement(ref _active);
        Interlocked.Increment(ref _rejected);
        return false;
    }

    public void Exit() => Interlocked.Decrement(ref _active);
}
