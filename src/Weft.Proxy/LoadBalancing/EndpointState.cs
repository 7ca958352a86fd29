using Weft.Core.Mesh;

namespace Weft.Proxy.LoadBalancing;

/// <summary>An endpoint and what the sidecar has seen of it. Read by <c>/clusters</c> and the policies.</summary>
/// <remarks>
/// Counters are updated with <see cref="Interlocked"/>; ejection is written only under its cluster's lock and read
/// without one. Ejection is a deadline on the <see cref="TimeProvider"/>'s clock, so an endpoint is back in
/// service the moment its time is up, without a timer having to run.
/// </remarks>
internal sealed class EndpointState
{
    private const long NotEjected = long.MinValue;

    private readonly TimeProvider _time;
    private readonly Lock _latencyGate = new();
    private int _outstanding;
    private long _attempts;
    private long _failures;
    private int _consecutiveFailures;
    private long _ejectedUntil = NotEjected;
    private double _ewmaMs = PeakEwmaLoadBalancingPolicy.DefaultRttMs;
    private long _ewmaStamp;
    private bool _hasLatency;

    public EndpointState(MeshEndpoint endpoint)
        : this(endpoint, TimeProvider.System)
    {
    }

    internal EndpointState(MeshEndpoint endpoint, TimeProvider time)
    {
        Endpoint = endpoint;
        _time = time;
        // The default RTT dates from when the endpoint joined, so it decays like a sample would (tower's PeakEwma::new
        // stamps it the same way): a new endpoint among fast peers is tried within a few time constants, not never.
        _ewmaStamp = time.GetTimestamp();
    }

    public MeshEndpoint Endpoint
    {
        get => _endpoint;
        internal set
        {
            _endpoint = value;
            HostPort = value.HostPort;
            Sidecar = value.Sidecar;
        }
    }

    /// <summary><see cref="MeshEndpoint.HostPort"/>, formatted once (it keys the connection pools on every request).</summary>
    public string HostPort { get; private set; } = "";

    /// <summary><see cref="MeshEndpoint.Sidecar"/>, looked up once.</summary>
    public bool Sidecar { get; private set; }

    private MeshEndpoint _endpoint = null!;

    /// <summary>Attempts picked and not yet reported.</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    public bool Ejected => IsEjectedAt(_time.GetTimestamp());

    public DateTimeOffset? EjectedUntil
    {
        get
        {
            var until = Volatile.Read(ref _ejectedUntil);
            var now = _time.GetTimestamp();
            return until > now ? _time.GetUtcNow() + _time.GetElapsedTime(now, until) : null;
        }
    }

    /// <summary>Peak-EWMA of attempt latency, in milliseconds.</summary>
    /// <remarks>
    /// As of the last report; the default RTT before any. Picks also let it decay toward zero while no report
    /// comes (<see cref="PeakEwmaLoadBalancingPolicy"/>), which this value does not show.
    /// </remarks>
    public double LatencyEwmaMs => Volatile.Read(ref _ewmaMs);

    /// <summary>Attempts reported, except cancelled ones.</summary>
    public long Attempts => Interlocked.Read(ref _attempts);

    /// <summary>Attempts reported as a 5xx, connect failure, reset or timeout.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary><see cref="MeshEndpoint.Weight"/>, at least 1 (Envoy does not accept 0 either).</summary>
    internal int Weight => Math.Max(1, Endpoint.Weight);

    /// <summary>Set when an update drops the endpoint; reports still end its attempts but no longer eject it.</summary>
    internal bool Removed { get; set; }

    /// <summary>Times ejected, less one per outlier interval spent in service since (Envoy's ejection backoff).</summary>
    internal int EjectionMultiplier { get; private set; }

    internal int ConsecutiveFailures => Volatile.Read(ref _consecutiveFailures);

    internal bool IsEjectedAt(long timestamp) => Volatile.Read(ref _ejectedUntil) > timestamp;

    internal void BeginAttempt() => Interlocked.Increment(ref _outstanding);

    /// <summary>Never below zero, so a stray second report cannot make an endpoint look idler than it is.</summary>
    internal void EndAttempt()
    {
        var current = Volatile.Read(ref _outstanding);
        while (current > 0)
        {
            var seen = Interlocked.CompareExchange(ref _outstanding, current - 1, current);
            if (seen == current)
                return;
            current = seen;
        }
    }

    /// <summary>Counts an attempt; returns the consecutive failures including this one (0 after a success).</summary>
    internal int CountOutcome(bool failed)
    {
        Interlocked.Increment(ref _attempts);
        if (!failed)
        {
            Volatile.Write(ref _consecutiveFailures, 0);
            return 0;
        }
        Interlocked.Increment(ref _failures);
        return Interlocked.Increment(ref _consecutiveFailures);
    }

    /// <summary>
    /// Feeds the peak-EWMA: a sample above the estimate replaces it at once; a lower one pulls it down with weight
    /// 1 − e^(−Δt/τ), Δt the time since the previous sample. A failure may raise the estimate but never lowers it,
    /// so an endpoint that fails fast does not look fast.
    /// </summary>
    internal void RecordLatency(TimeSpan latency, long timestamp, bool failed)
    {
        var sample = Math.Max(0, latency.TotalMilliseconds);
        lock (_latencyGate)
        {
            if (!_hasLatency)
            {
                if (failed && sample < _ewmaMs)
                    return;
                _ewmaStamp = timestamp;
                Volatile.Write(ref _ewmaMs, sample);
                Volatile.Write(ref _hasLatency, true);
                return;
            }
            var estimate = _ewmaMs;
            if (sample >= estimate)
            {
                estimate = sample;
            }
            else
            {
                if (failed)
                    return;
                var weight = Math.Exp(-_time.GetElapsedTime(_ewmaStamp, timestamp).TotalSeconds / PeakEwmaLoadBalancingPolicy.DecaySeconds);
                estimate = estimate * weight + sample * (1 - weight);
            }
            _ewmaStamp = timestamp;
            Volatile.Write(ref _ewmaMs, estimate);
        }
    }

    /// <summary>
    /// The estimate decayed toward zero for the time since the last sample, or since the endpoint joined for the
    /// default RTT of one never sampled (tower's <c>PeakEwma</c> load).
    /// </summary>
    internal double DecayedLatencyMs(long timestamp)
    {
        var estimate = Volatile.Read(ref _ewmaMs);
        var idle = _time.GetElapsedTime(Volatile.Read(ref _ewmaStamp), timestamp).TotalSeconds;
        return idle <= 0 ? estimate : estimate * Math.Exp(-idle / PeakEwmaLoadBalancingPolicy.DecaySeconds);
    }

    /// <summary>
    /// Ejects until <paramref name="timestamp"/> + base × multiplier. The multiplier is the times ejected, less
    /// one for every full <paramref name="interval"/> in service since the last ejection ended (Envoy decrements
    /// it once per sweep that finds the host in service), and stops growing at the cap. Caller holds the
    /// cluster's lock.
    /// </summary>
    internal void Eject(long timestamp, TimeSpan baseTime, TimeSpan interval, TimeSpan maxTime)
    {
        var lastUntil = Volatile.Read(ref _ejectedUntil);
        if (lastUntil != NotEjected && interval > TimeSpan.Zero)
        {
            var inService = _time.GetElapsedTime(lastUntil, timestamp);
            var sweeps = (int)Math.Min(int.MaxValue, Math.Max(0, inService.Ticks / interval.Ticks));
            EjectionMultiplier = Math.Max(0, EjectionMultiplier - sweeps);
        }
        var maxMultiplier = baseTime > TimeSpan.Zero ? (int)Math.Max(1, Math.Ceiling(maxTime / baseTime)) : 1;
        EjectionMultiplier = Math.Min(EjectionMultiplier + 1, maxMultiplier);
        var duration = TimeSpan.FromTicks(Math.Min(baseTime.Ticks * EjectionMultiplier, Math.Max(baseTime.Ticks, maxTime.Ticks)));
        Volatile.Write(ref _consecutiveFailures, 0);
        Volatile.Write(ref _ejectedUntil, timestamp + (long)(duration.TotalSeconds * _time.TimestampFrequency));
    }
}
