using System.Collections.Immutable;
using System.Net;
using Microsoft.Extensions.Logging;

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

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>OTLP/HTTP collector spans are exported to (<c>http://host:4318</c>); no tracing, only pass-through of the headers, when null.</summary>
    public Uri? OtlpEndpoint { get; init; }

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
