namespace Weft.Bench.Proxy;

/// <summary>Settings for one run; <c>--quick</c> shrinks every load so the whole run is a smoke test.</summary>
internal sealed record BenchContext(string WeftDll, string WorkDir, bool Quick)
{
    /// <summary><c>--mtls</c>: only issue 4's comparison: two hops with and without mTLS, and two HAProxies over TLS.</summary>
    public bool Mtls { get; init; }

    /// <summary><c>--knobs</c>: one-hop sidecars started with different runtime knobs, the baseline first; null otherwise.</summary>
    public IReadOnlyList<SidecarLaunch>? Knobs { get; set; }

    /// <summary>
    /// <c>--mtls --knob</c>: one more sidecar pair per launch (a client and a server sidecar, both started with it) beside
    /// "weft 2 hops", as the target "weft 2 hops: NAME"; null otherwise.
    /// </summary>
    public IReadOnlyList<SidecarLaunch>? PairKnobs { get; set; }

    /// <summary><c>--weft-aot PATH</c> (run.sh <c>--aot</c>): a Native AOT <c>weft</c> executable; adds the "weft 1 hop (AOT)" target.</summary>
    public string? WeftAot { get; init; }

    /// <summary><c>--rounds N</c>: fewer rounds when many targets alternate (the knob comparison).</summary>
    public int? RoundsOverride { get; init; }

    public int Rounds => RoundsOverride ?? (Quick ? 1 : 3);

    /// <summary>Closed-loop load: wrk with one thread and 50 connections, for this long.</summary>
    public int LoadSeconds => Quick ? 2 : 10;

    public int WrkConnections => 50;

    /// <summary>
    /// Uncounted load before a target's first round (JIT, tier-up, connection pools): 6 s, longer than OpenTelemetry's
    /// 5 s export schedule, so the traced sidecar's first span export (and the JIT of its exporter) is not counted.
    /// </summary>
    public int WarmUpSeconds => Quick ? 1 : 6;

    /// <summary>HTTP/2: h2load with this many connections, each with this many concurrent streams.</summary>
    public int H2Connections => 10;

    public int H2Streams => 10;

    public int FixedRate => 1_000;

    public int FixedRateSeconds => Quick ? 2 : 10;

    public int FixedRateConnections => 16;

    public static HttpClient Client(TimeSpan timeout) =>
        new(new SocketsHttpHandler { UseProxy = false, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5) }) { Timeout = timeout };
}
