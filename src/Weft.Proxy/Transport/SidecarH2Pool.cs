using System.Collections.Concurrent;
using System.Net;
using Weft.Core.Mesh;
using Weft.Proxy.Http2;

namespace Weft.Proxy.Transport;

/// <summary>
/// The own HTTP/2 client's connections to the sidecars of one destination service, per endpoint: opened on demand
/// through <see cref="IUpstreamTransport.ConnectWithSocketAsync"/> (so mTLS and the peer's identity check are the
/// transport's), shared until the server's MAX_CONCURRENT_STREAMS, at most <c>maxConnections</c> per endpoint (as
/// <c>MaxConnectionsPerServer</c> did). A connection older than <c>lifetime</c> takes no new streams, so renewed
/// certificates reach new connections (as <c>PooledConnectionLifetime</c> did), and closes once idle; idle connections
/// close after <see cref="IdleTimeout"/>; dead ones are dropped. Each connection pings a silent server
/// (<see cref="Http2KeepAlive"/>), so one that stopped answering fails instead of holding its requests.
/// </summary>
internal sealed class SidecarH2Pool : IDisposable
{
    /// <summary>As the handler's <c>PooledConnectionIdleTimeout</c>.</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, EndpointConnections> _endpoints = new(StringComparer.Ordinal);
    private readonly IUpstreamTransport _transport;
    private readonly string _service;
    private readonly TimeSpan _connectTimeout;
    private readonly int _maxConnections;
    private readonly TimeSpan _lifetime;
    private readonly TimeProvider _time;
    private readonly int _window;
    private readonly Http2KeepAlive _keepAlive;
    private readonly ITimer _sweeper;

    public SidecarH2Pool(IUpstreamTransport transport, string service, TimeSpan connectTimeout, int maxConnections, TimeSpan lifetime, TimeProvider time,
        int window = Http2ClientConnection.DefaultWindow, Http2KeepAlive keepAlive = default)
    {
        _keepAlive = keepAlive;
        _transport = transport;
        _service = service;
        _connectTimeout = connectTimeout;
        _maxConnections = Math.Max(1, maxConnections);
        _lifetime = lifetime;
        _time = time;
        _window = window;
        var every = TimeSpan.FromSeconds(15);
        _sweeper = time.CreateTimer(static s => ((SidecarH2Pool)s!).Sweep(), this, every, every);
    }

    /// <summary>Connections open now, over all endpoints (for tests and the admin view).</summary>
    public int Connections => _endpoints.Values.Sum(e => e.Count);

    /// <summary>Keep-alive PINGs sent by the connections open now (tests).</summary>
    internal ulong KeepAlivePings => (ulong)_endpoints.Values.Sum(e => e.KeepAlivePings);

    /// <summary>
    /// A stream on a connection to <paramref name="endpoint"/>, tied to <paramref name="token"/>. Failing to connect
    /// throws <see cref="Http2NotProcessedException"/> (safe to retry); cancellation throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public ValueTask<Http2ClientStream> OpenStreamAsync(MeshEndpoint endpoint, CancellationToken token) =>
        OpenStreamAsync(endpoint, endpoint.HostPort, token);

    /// <summary>As above, with the endpoint's <paramref name="hostPort"/> already formatted (it keys the connections).</summary>
    public ValueTask<Http2ClientStream> OpenStreamAsync(MeshEndpoint endpoint, string hostPort, CancellationToken token)
    {
        var connections = _endpoints.TryGetValue(hostPort, out var found) ? found
            : _endpoints.GetOrAdd(hostPort, static (_, s) => new EndpointConnections(s.Pool, new DnsEndPoint(s.Endpoint.Address, s.Endpoint.Port)), (Pool: this, Endpoint: endpoint));
        return connections.OpenStreamAsync(token);
    }

    private void Sweep()
    {
        foreach (var endpoint in _endpoints.Values)
            endpoint.Sweep(IdleTimeout);
    }

    public void Dispose()
    {
        _sweeper.Dispose();
        foreach (var endpoint in _endpoints.Values)
            endpoint.Sweep(TimeSpan.Zero, all: true);
    }

    private sealed class EndpointConnections(SidecarH2Pool pool, DnsEndPoint address)
    {
        private readonly Lock _sync = new();
        private readonly List<Http2ClientConnection> _connections = [];
        private List<TaskCompletionSource>? _waiters;
        private bool _connecting;

        public long KeepAlivePings
        {
            get
            {
                lock (_sync)
                    return _connections.Sum(c => (long)c.KeepAlivePings);
            }
        }

        public int Count
        {
            get
            {
                lock (_sync)
                    return _connections.Count;
            }
        }

        public ValueTask<Http2ClientStream> OpenStreamAsync(CancellationToken token)
        {
            lock (_sync)
            {
                if (TryOpenLocked(token, out var stream))
                    return new ValueTask<Http2ClientStream>(stream);
            }

            return OpenSlowAsync(token);
        }

        /// <summary>A stream on the first connection with room, retiring the connections past their lifetime on the way.</summary>
        private bool TryOpenLocked(CancellationToken token, out Http2ClientStream stream)
        {
            var now = pool._time.GetTimestamp();
            for (var i = 0; i < _connections.Count; i++)
            {
                var connection = _connections[i];
                if (pool._time.GetElapsedTime(connection.CreatedAt, now) >= pool._lifetime || !connection.IsUsable)
                {
                    // It finishes its streams and closes after the last one.
                    _connections.RemoveAt(i--);
                    connection.Retire();
                    continue;
                }

                if (connection.TryOpenStream(token, out stream))
                    return true;
            }

            stream = null!;
            return false;
        }

        private async ValueTask<Http2ClientStream> OpenSlowAsync(CancellationToken token)
        {
            while (true)
            {
                token.ThrowIfCancellationRequested();
                TaskCompletionSource? wait = null;
                lock (_sync)
                {
                    if (TryOpenLocked(token, out var stream))
                        return stream;
                    // One connection opens at a time: the requests waiting meanwhile may fit on it.
                    if (!_connecting && _connections.Count < pool._maxConnections)
                    {
                        _connecting = true;
                    }
                    else
                    {
                        wait = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        (_waiters ??= []).Add(wait);
                    }
                }

                if (wait is not null)
                {
                    await wait.Task.WaitAsync(token);
                    continue;
                }

                Http2ClientConnection connection;
                try
                {
                    connection = await ConnectAsync(token);
                }
                catch
                {
                    lock (_sync)
                        _connecting = false;
                    WakeWaiters();
                    throw;
                }

                // The new connection joins the list in the same step that ends the connecting, and only then are the
                // waiters woken: a waiter that ran in between found neither and opened a second connection past
                // maxConnections (the backend of Http2ClientTests' stream-limit test saw two now and then).
                connection.Changed = OnChanged;
                lock (_sync)
                {
                    _connections.Add(connection);
                    _connecting = false;
                }

                WakeWaiters();
            }
        }

        private async Task<Http2ClientConnection> ConnectAsync(CancellationToken token)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(pool._connectTimeout);
            Stream? stream = null;
            try
            {
                var (connected, socket) = await pool._transport.ConnectWithSocketAsync(PeerKind.Sidecar, pool._service, address, timeout.Token);
                stream = connected;
                return await Http2ClientConnection.OpenAsync(stream, socket, pool._time, timeout.Token, pool._window, pool._keepAlive);
            }
            catch (Exception e) when (!token.IsCancellationRequested)
            {
                if (stream is not null)
                    await stream.DisposeAsync();
                throw new Http2NotProcessedException($"could not open an HTTP/2 connection to {address.Host}:{address.Port}",
                    timeout.IsCancellationRequested ? new TimeoutException($"connecting took over {pool._connectTimeout}", e) : e);
            }
        }

        /// <summary>A stream was released or a connection changed: waiters try again; dead connections leave.</summary>
        private void OnChanged(Http2ClientConnection connection)
        {
            if (!connection.IsUsable)
            {
                lock (_sync)
                    _connections.Remove(connection);
            }

            WakeWaiters();
        }

        private void WakeWaiters()
        {
            List<TaskCompletionSource>? waiters;
            lock (_sync)
            {
                waiters = _waiters;
                _waiters = null;
            }

            if (waiters is null)
                return;
            foreach (var waiter in waiters)
                waiter.TrySetResult();
        }

        /// <summary>Retires the connections past their lifetime, idle for <paramref name="idle"/>, or dead (<paramref name="all"/>: every one).</summary>
        public void Sweep(TimeSpan idle, bool all = false)
        {
            List<Http2ClientConnection> closing = [];
            lock (_sync)
            {
                var now = pool._time.GetTimestamp();
                for (var i = 0; i < _connections.Count; i++)
                {
                    var connection = _connections[i];
                    var expired = pool._time.GetElapsedTime(connection.CreatedAt, now) >= pool._lifetime;
                    var idleTooLong = connection.OpenStreams == 0 && pool._time.GetElapsedTime(connection.IdleSince, now) >= idle;
                    if (all || expired || idleTooLong || !connection.IsUsable)
                    {
                        _connections.RemoveAt(i--);
                        closing.Add(connection);
                    }
                }
            }

            foreach (var connection in closing)
                connection.Retire();
        }
    }
}
