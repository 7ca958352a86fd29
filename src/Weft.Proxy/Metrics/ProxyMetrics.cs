using System.Collections.Concurrent;

namespace Weft.Proxy.Metrics;

/// <summary>
/// Every counter the sidecar keeps, in memory, for <c>/stats</c> and <c>/metrics</c>. Route counters are looked up
/// when a snapshot is compiled, never on the request path.
/// </summary>
internal sealed class ProxyMetrics
{
    private long _tlsHandshakeFailures;
    private long _certificateNotAfterTicks;

    /// <summary>This sidecar's service: the <c>service</c> label of everything it exports.</summary>
    public string ServiceName { get; init; } = "";

    /// <summary>False with <c>weft proxy --metrics off</c>: requests are not counted and <c>/metrics</c> answers 404.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The sidecar's workload certificate and handshake counts; null for a proxy without mTLS.</summary>
    public Security.WorkloadTls? Workload { get; init; }

    /// <summary>TLS handshakes that failed on any listener or upstream connection; the mTLS transport reports them.</summary>
    public long TlsHandshakeFailures => Interlocked.Read(ref _tlsHandshakeFailures) + (Workload?.TlsHandshakeFailures ?? 0);

    /// <summary>
    /// True once the mTLS transport reports anything (a certificate or a failed handshake): until then the TLS metrics
    /// are not exported, as a sidecar without TLS has nothing to say about them.
    /// </summary>
    public bool TlsReported => CertificateNotAfter is not null || TlsHandshakeFailures > 0;

    /// <summary>NotAfter of the sidecar's current workload certificate; set by the mTLS work on each rotation.</summary>
    public DateTimeOffset? CertificateNotAfter
    {
        get
        {
            if (Workload is { } workload)
                return workload.CertificateExpiry;
            var ticks = Interlocked.Read(ref _certificateNotAfterTicks);
            return ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
        }
        set => Interlocked.Exchange(ref _certificateNotAfterTicks, value?.UtcTicks ?? 0);
    }

    public void TlsHandshakeFailed() => Interlocked.Increment(ref _tlsHandshakeFailures);

    private readonly ConcurrentDictionary<(string, string, string), RouteStats> _routes = new();
    private readonly ConcurrentDictionary<string, ListenerStats> _listeners = new();
    private readonly ConcurrentDictionary<string, TcpStats> _tcp = new();
    private long _intentionDenials;

    public RouteStats Route(string direction, string service, string route) =>
        _routes.GetOrAdd((direction, service, route), static k => new RouteStats(k.Item1, k.Item2, k.Item3));

    public ListenerStats Listener(string name) => _listeners.GetOrAdd(name, static n => new ListenerStats(n));

    public TcpStats Tcp(string upstream) => _tcp.GetOrAdd(upstream, static n => new TcpStats(n));

    /// <summary>Every route's counters, one entry per (route, peer) once inbound callers are told apart.</summary>
    public IEnumerable<RouteStats> Routes => _routes.Values.SelectMany(static r => r.PerPeer);
    public IEnumerable<ListenerStats> Listeners => _listeners.Values;
    public IEnumerable<TcpStats> TcpUpstreams => _tcp.Values;

    /// <summary>Inbound requests answered 403 intention-denied, and inbound TCP connections closed for the same reason.</summary>
    public long IntentionDenials => Interlocked.Read(ref _intentionDenials);

    public void IntentionDenied() => Interlocked.Increment(ref _intentionDenials);

    /// <summary>HTTP/2 connections the keep-alive took for dead: this sidecar's connections to other sidecars (the own client's).</summary>
    public Http2.DeadConnections DeadPeersAsClient { get; } = new();

    /// <summary>As <see cref="DeadPeersAsClient"/>, for connections the own HTTP/2 server served (callers that stopped answering).</summary>
    public Http2.DeadConnections DeadPeersAsServer { get; } = new();

    /// <summary>The inbound listener's HTTP/2 connection counts by server (ours or Kestrel's); null when ours is off.</summary>
    public Listeners.OwnH2Server? OwnH2 { get; set; }

    /// <summary>The access log when <c>--access-log</c> is on (set once at start-up), for its written and dropped line counts.</summary>
    public Observability.AccessLog? AccessLog { get; set; }
}

/// <summary>Connections of one listener.</summary>
internal sealed class ListenerStats(string name)
{
    private long _open;
    private long _total;

    public string Name { get; } = name;
    public long Open => Interlocked.Read(ref _open);
    public long Total => Interlocked.Read(ref _total);

    public void Opened()
    {
        Interlocked.Increment(ref _open);
        Interlocked.Increment(ref _total);
    }

    public void Closed() => Interlocked.Decrement(ref _open);
}

/// <summary>Raw TCP proxying to one upstream.</summary>
internal sealed class TcpStats(string upstream)
{
    private long _sent;
    private long _received;
    private long _connections;
    private long _connectFailures;

    public string Upstream { get; } = upstream;
    public long BytesToUpstream => Interlocked.Read(ref _sent);
    public long BytesFromUpstream => Interlocked.Read(ref _received);
    public long Connections => Interlocked.Read(ref _connections);
    public long ConnectFailures => Interlocked.Read(ref _connectFailures);

    public void Sent(long n) => Interlocked.Add(ref _sent, n);
    public void Received(long n) => Interlocked.Add(ref _received, n);
    public void Connected() => Interlocked.Increment(ref _connections);
    public void ConnectFailed() => Interlocked.Increment(ref _connectFailures);
}
