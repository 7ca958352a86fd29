namespace Weft.Proxy.Resilience;

/// <summary>Envoy's fully jittered exponential backoff between retries: 25 ms base, 250 ms cap.</summary>
internal static class Backoff
{
    public static readonly TimeSpan Base = TimeSpan.FromMilliseconds(25);
    public static readonly TimeSpan Max = TimeSpan.FromMilliseconds(250);

    /// <summary>The wait before retry number <paramref name="retry"/> (1 for the first).</summary>
    public static TimeSpan Delay(int retry)
    {
        var ceiling = Base.TotalMilliseconds * ((1L << Math.Min(retry, 16)) - 1);
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * Math.Min(ceiling, Max.TotalMilliseconds));
    }
}
