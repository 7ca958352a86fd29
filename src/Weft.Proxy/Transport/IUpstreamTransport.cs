using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Weft.Proxy.Security;
using Yarp.ReverseProxy.Forwarder;

namespace Weft.Proxy.Transport;

/// <summary>Who is at the other end of a connection: decides the connection's security (mTLS to sidecars).</summary>
internal enum PeerKind
{
    /// <summary>An instance registered without a sidecar: plaintext, its own protocol.</summary>
    Direct,

    /// <summary>Another Weft sidecar's inbound listener: always HTTP/2 over mTLS.</summary>
    Sidecar,

    /// <summary>The app beside this sidecar.</summary>
    LocalApp,
}

/// <summary>The connection layer, one small seam: everything above it sees only an <see cref="HttpMessageInvoker"/> or a stream.</summary>
internal interface IUpstreamTransport
{
    /// <summary>Pooled HTTP connections to instances of <paramref name="service"/> of one peer kind.</summary>
    HttpMessageInvoker Invoker(PeerKind peer, string service, TimeSpan connectTimeout, int maxConnections);

    /// <summary>The own HTTP/2 client's connections to the sidecars of <paramref name="service"/> (see <see cref="SidecarH2Pool"/>).</summary>
    SidecarH2Pool SidecarH2(string service, TimeSpan connectTimeout, int maxConnections);

    /// <summary>One raw connection (the TCP proxy's), secured as the peer kind requires.</summary>
    ValueTask<Stream> ConnectAsync(PeerKind peer, string service, DnsEndPoint endpoint, CancellationToken cancellationToken);

    /// <summary>As <see cref="ConnectAsync"/>, with the socket under the stream (to run its completions inline).</summary>
    ValueTask<(Stream Stream, Socket Socket)> ConnectWithSocketAsync(PeerKind peer, string service, DnsEndPoint endpoint, CancellationToken cancellationToken);
}

/// <summary>
/// Pooled connections, one pool per (peer kind, connect timeout, connection limit) — and per destination service for
/// sidecars, whose connections are mTLS (TLS 1.3, h2) with this sidecar's current certificate and check that the peer
/// is that service. Without a <see cref="WorkloadTls"/> (in-process tests of routing), sidecars get h2c.
/// Direct instances and the local app stay plaintext.
/// </summary>
internal sealed class UpstreamTransport(WorkloadTls? tls, TimeSpan sidecarConnectionLifetime, TimeProvider? time = null, bool engine = false,
    Http2.Http2KeepAlive sidecarKeepAlive = default) : IUpstreamTransport, IDisposable
{
    // The own h2 client's connections (ConnectWithSocketAsync) on the epoll engine; SocketsHttpHandler's stay on Socket.
    private readonly bool _engine = engine && Net.EpollEngine.IsSupported;

    private readonly ConcurrentDictionary<(PeerKind, string, TimeSpan, int), HttpMessageInvoker> _invokers = new();
    private readonly ConcurrentDictionary<(string, TimeSpan, int), SidecarH2Pool> _h2Pools = new();

    public SidecarH2Pool SidecarH2(string service, TimeSpan connectTimeout, int maxConnections) =>
        _h2Pools.TryGetValue((tls is null ? "" : service, connectTimeout, maxConnections), out var pool) ? pool
            : _h2Pools.GetOrAdd((tls is null ? "" : service, connectTimeout, maxConnections), static (key, s) =>
                new SidecarH2Pool(s.Transport, key.Item1, key.Item2, key.Item3, s.Lifetime, s.Time, keepAlive: s.KeepAlive),
                (Transport: this, Lifetime: sidecarConnectionLifetime, Time: time ?? TimeProvider.System, KeepAlive: sidecarKeepAlive));

    public HttpMessageInvoker Invoker(PeerKind peer, string service, TimeSpan connectTimeout, int maxConnections)
    {
        var secured = peer == PeerKind.Sidecar && tls is not null;
        return _invokers.GetOrAdd((peer, secured ? service : "", connectTimeout, maxConnections), key =>
        {
            var handler = new SocketsHttpHandler
            {
                UseProxy = false,
                AllowAutoRedirect = false,
                AutomaticDecompression = DecompressionMethods.None,
                UseCookies = false,
                ConnectTimeout = key.Item3,
                MaxConnectionsPerServer = key.Item4,
                EnableMultipleHttp2Connections = true,
                PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
                // Trace headers pass through as received; the tracing issue adds a propagator here.
                ActivityHeadersPropagator = null,
            };
            if (peer == PeerKind.Sidecar && sidecarKeepAlive.Enabled)
            {
                // The same keep-alive as the own client's (Http2KeepAlive): a silent peer gets a PING, one that does
                // not answer fails its connection. Only towards sidecars: gRPC servers may refuse pings they did not ask for.
                // The handler refuses less than a second for either.
                var atLeast = sidecarKeepAlive.AtLeast(TimeSpan.FromSeconds(1));
                handler.KeepAlivePingDelay = atLeast.Interval;
                handler.KeepAlivePingTimeout = atLeast.Timeout;
                handler.KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always;
            }

            if (secured)
            {
                // The handler sees an http:// prefix and speaks h2 with prior knowledge over the stream we hand it,
                // which is already mTLS: the certificate is chosen per connection, so renewals reach new connections.
                var destination = key.Item2;
                handler.PooledConnectionLifetime = sidecarConnectionLifetime;
                handler.ConnectCallback = (context, cancellationToken) => ConnectAsync(PeerKind.Sidecar, destination, context.DnsEndPoint, cancellationToken);
            }

            return new HttpMessageInvoker(handler, disposeHandler: true);
        });
    }

    // SocketsHttpHandler's connections stay on Socket (its continuations are not ours to run on the engine thread).
    public async ValueTask<Stream> ConnectAsync(PeerKind peer, string service, DnsEndPoint endpoint, CancellationToken cancellationToken) =>
        (await ConnectAsync(peer, service, endpoint, engine: false, cancellationToken)).Stream;

    public ValueTask<(Stream Stream, Socket Socket)> ConnectWithSocketAsync(PeerKind peer, string service, DnsEndPoint endpoint, CancellationToken cancellationToken) =>
        ConnectAsync(peer, service, endpoint, _engine, cancellationToken);

    private async ValueTask<(Stream Stream, Socket Socket)> ConnectAsync(PeerKind peer, string service, DnsEndPoint endpoint, bool engine, CancellationToken cancellationToken)
    {
        var network = await ConnectTcpAsync(endpoint, engine, cancellationToken);
        var socket = network is Net.EpollStream epoll ? epoll.Socket.Socket : ((NetworkStream)network).Socket;
        if (peer != PeerKind.Sidecar || tls is null)
            return (network, socket);
        var ssl = new SslStream(network, leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsClientAsync(tls.ClientOptions(service, endpoint), cancellationToken);
            return (ssl, socket);
        }
        catch (Exception e)
        {
            await ssl.DisposeAsync();
            if (e is not OperationCanceledException)
                tls.RecordHandshakeFailure();
            throw;
        }
    }

    private static async ValueTask<Stream> ConnectTcpAsync(DnsEndPoint endpoint, bool engine, CancellationToken cancellationToken)
    {
        if (engine)
        {
            // Completions inline on the engine thread, as the socket's were (the own h2 client's read loop never blocks).
            var epoll = Net.EpollSocket.Create(IPAddress.TryParse(endpoint.Host, out var ip) ? ip.AddressFamily : AddressFamily.InterNetwork);
            epoll.InlineCompletions = FastPath.InlineCompletions.Allowed;
            try
            {
                await epoll.ConnectAsync(endpoint, cancellationToken);
                return new Net.EpollStream(epoll);
            }
            catch
            {
                epoll.Dispose();
                throw;
            }
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new NetworkStream(socket, ownsSocket: true);
    }

    public void Dispose()
    {
        foreach (var invoker in _invokers.Values)
            invoker.Dispose();
        _invokers.Clear();
        foreach (var pool in _h2Pools.Values)
            pool.Dispose();
        _h2Pools.Clear();
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
