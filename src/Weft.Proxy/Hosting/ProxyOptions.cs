using System.Collections.Immutable;
using System.Net;
using Microsoft.Extensions.Logging;
using Weft.Proxy.Security;

namespace Weft.Proxy.Hosting;

/// <summary>What one sidecar is for and where it listens. The <c>weft proxy</c> command builds this from its flags.</summary>
internal sealed record ProxyOptions
{
    public static readonly IPEndPoint DefaultInbound = new(IPAddress.Any, 15006);
    public static readonly IPEndPoint DefaultOutbound = new(IPAddress.Loopback, 15001);
    public static readonly IPEndPoint DefaultAdmin = new(IPAddress.Loopback, 15000);

    /// <summary>The service this sidecar stands beside: its own <c>service-defaults</c> apply to every call it makes.</summary>
    public required string ServiceName { get; init; }

    public required string InstanceId { get; init; }

    /// <summary>The local app (<c>127.0.0.1:PORT</c>) that inbound traffic is forwarded to.</summary>
    public required IPEndPoint AppAddress { get; init; }

    public IPEndPoint InboundAddress { get; init; } = DefaultInbound;

    /// <summary>HTTP routed by <c>Host</c> (the upstream service's name; the port is ignored).</summary>
    public IPEndPoint OutboundAddress { get; init; } = DefaultOutbound;

    /// <summary>Upstream name → a local listener dedicated to it (HTTP, or raw TCP when the upstream's protocol is <c>tcp</c>).</summary>
    public ImmutableDictionary<string, IPEndPoint> Upstreams { get; init; } = ImmutableDictionary<string, IPEndPoint>.Empty;

    public IPEndPoint AdminAddress { get; init; } = DefaultAdmin;

    /// <summary>How long <see cref="ProxyHost.StopAsync"/> waits for in-flight requests after it stops accepting.</summary>
    public TimeSpan DrainTime { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Count requests for <c>/metrics</c> and <c>/stats</c>; off only to measure what counting costs.</summary>
    public bool Metrics { get; init; } = true;

    /// <summary>
    /// Serve plain HTTP/1.1 to instances without a sidecar on the fast path (<see cref="FastPath.Http1FastPath"/>);
    /// off only to compare with the layered path. Without effect while an access log is written.
    /// </summary>
    public bool FastPath { get; init; } = true;

    /// <summary>
    /// The fast path's hop to another sidecar goes through Weft's own HTTP/2 client (<see cref="Transport.SidecarH2Pool"/>)
    /// instead of SocketsHttpHandler; on unless <c>WEFT_FAST_H2=0</c>.
    /// </summary>
    public bool FastH2 { get; init; } = Environment.GetEnvironmentVariable("WEFT_FAST_H2") != "0";

    /// <summary>
    /// The fast path's sockets run on Weft's own epoll engine (<see cref="Net.EpollEngine"/>): its upstream connections,
    /// and the outbound, per-upstream and inbound listeners' client connections (the engine's Kestrel transport). On by
    /// default on Linux (elsewhere it stays off); <c>WEFT_FAST_ENGINE=0</c> turns it off.
    /// </summary>
    public bool FastEngine { get; init; } = FastEngineByEnvironment;

    public static bool FastEngineByEnvironment => Environment.GetEnvironmentVariable("WEFT_FAST_ENGINE") != "0";

    /// <summary>
    /// Weft's own HTTP/2 server (<see cref="Listeners.OwnH2Server"/>) instead of Kestrel's serves our own client's
    /// connections on the inbound listener (marked in their first SETTINGS) and the app's h2c on the outbound and
    /// upstream listeners; on unless <c>WEFT_FAST_H2_SERVER=0</c>.
    /// </summary>
    public bool FastH2Server { get; init; } = Listeners.OwnH2Server.EnabledByEnvironment;

    /// <summary>The sidecar's clock: <see cref="Net.EngineClock"/> (the system's, read once per event on the engines' threads) unless a test sets one.</summary>
    public TimeProvider Time { get; init; } = Net.EngineClock.Default;

    /// <summary>
    /// What inbound calls no intention matches get until the first snapshot, which always carries the control plane's
    /// own default. False (deny) for <c>weft proxy</c>: a sidecar that has not heard from the control plane lets no one
    /// in. True only where no control plane will ever speak (in-process tests of the data plane).
    /// </summary>
    public bool IntentionsDefaultAllow { get; init; }

    /// <summary>
    /// This sidecar's certificate and trust bundle: the inbound listener then speaks only mTLS and calls to other
    /// sidecars go over mTLS. Every sidecar a <c>SidecarRunner</c> starts has one; null only in tests of routing.
    /// </summary>
    public WorkloadTls? Workload { get; init; }

    /// <summary>
    /// How long a connection to another sidecar is reused before new requests move to a fresh one (in-flight requests
    /// finish on the old). Bounds how long a renewed certificate or a rotated root takes to reach every connection.
    /// </summary>
    public TimeSpan SidecarConnectionLifetime { get; init; } = DefaultSidecarConnectionLifetime;

    public static readonly TimeSpan DefaultSidecarConnectionLifetime = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Keep-alive PINGs on HTTP/2 connections: those to other sidecars, those other sidecars (and apps speaking h2c)
    /// open to this one. After this long without a frame from the peer a PING goes out, and a peer that answers nothing
    /// within <see cref="H2KeepAliveTimeout"/> has its connection failed (a client sidecar's requests on it fail as
    /// <c>upstream-reset</c> and the next ones open a new connection; a server sidecar aborts the requests still open
    /// on it). Zero turns it off. Kestrel and <c>SocketsHttpHandler</c> get at least 1 s of each (their minimum).
    /// </summary>
    public TimeSpan H2KeepAliveInterval { get; init; } = Http2.Http2KeepAlive.Default.Interval;

    /// <summary>How long a keep-alive PING may go unanswered; see <see cref="H2KeepAliveInterval"/>.</summary>
    public TimeSpan H2KeepAliveTimeout { get; init; } = Http2.Http2KeepAlive.Default.Timeout;

    /// <summary>
    /// The OTLP collector spans are exported to (<c>http://host:4318</c> for http/protobuf, <c>http://host:4317</c> for
    /// grpc); no tracing, only pass-through of the headers, when null.
    /// </summary>
    public Uri? OtlpEndpoint { get; init; }

    /// <summary>How spans reach <see cref="OtlpEndpoint"/>: OTLP/HTTP with protobuf (a base URL gets <c>/v1/traces</c>), or OTLP/gRPC (the URL as given).</summary>
    public OpenTelemetry.Exporter.OtlpExportProtocol OtlpProtocol { get; init; } = OpenTelemetry.Exporter.OtlpExportProtocol.HttpProtobuf;

    /// <summary>The share of new traces recorded (parent-based: a caller's sampled flag wins).</summary>
    public double TraceSampling { get; init; } = 1.0;

    /// <summary>The ActivitySource spans come from; distinct per proxy only when several share one process (tests).</summary>
    internal string TraceSourceName { get; init; } = Observability.ProxyTracing.DefaultSourceName;

    /// <summary>A file the JSON access log is appended to, <c>-</c> for stdout; no access log when null.</summary>
    public string? AccessLogPath { get; init; }

    /// <summary>The share of requests the access log records.</summary>
    public double AccessLogSampling { get; init; } = 1.0;

    /// <summary>Where the proxy logs; none when null.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }
}
