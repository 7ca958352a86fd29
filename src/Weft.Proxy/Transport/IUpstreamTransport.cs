using System.Collections.Concurrent;
using System.Net;
using Yarp.ReverseProxy.Forwarder;

namespace Weft.Proxy.Transport;

/// <summary>Who is at the other end of a connection: decides the connection's security (mTLS to sidecars, later).</summary>
internal enum PeerKind
{
    /// <summary>An instance registered without a sidecar: plaintext, its own protocol.</summary>
    Direct,

    /// <summary>Another Weft sidecar's inbound listener: always HTTP/2 (h2c now, mTLS with the security issue).</summary>
    Sidecar,

    /// <summary>The app beside this sidecar.</summary>
    LocalApp,
}

/// <summary>The connection layer, one small seam: everything above it sees only an <see cref="HttpMessageInvoker"/>.</summary>
internal interface IUpstreamTransport
{
    HttpMessageInvoker Invoker(PeerKind peer, TimeSpan connectTimeout, int maxConnections);
}

/// <summary>Plaintext pooled connections, one pool per (peer kind, connect timeout, connection limit).</summary>
internal sealed class PlaintextTransport : IUpstreamTransport, IDisposable
{
    private readonly ConcurrentDictionary<(PeerKind, TimeSpan, int), HttpMessageInvoker> _invokers = new();

    public HttpMessageInvoker Invoker(PeerKind peer, TimeSpan connectTimeout, int maxConnections) =>
        _invokers.GetOrAdd((peer, connectTimeout, maxConnections), static key => new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            ConnectTimeout = key.Item2,
            MaxConnectionsPerServer = key.Item3,
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            // Trace headers pass through as received; the tracing issue adds a propagator here.
            ActivityHeadersPropagator = null,
        }, disposeHandler: true));

    public void Dispose()
    {
        foreach (var invoker in _invokers.Values)
            invoker.Dispose();
        _invokers.Clear();
    }
}

/// <summary>The two ways the proxy speaks HTTP to the next hop.</summary>
internal static class ForwarderConfigs
{
    // Idle limit for long-lived exchanges (WebSockets, gRPC streams); request timeouts are the route's business.
    private static readonly TimeSpan Idle = TimeSpan.FromMinutes(15);

    public static readonly ForwarderRequestConfig Http11 = new()
    {
        Version = HttpVersion.Version11,
        VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        ActivityTimeout = Idle,
    };

    /// <summary>h2c with prior knowledge: the peer is known to speak HTTP/2.</summary>
    public static readonly ForwarderRequestConfig Http2 = new()
    {
        Version = HttpVersion.Version20,
        VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        ActivityTimeout = Idle,
    };
}
