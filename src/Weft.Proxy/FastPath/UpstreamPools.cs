using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Weft.Core.Mesh;
using Weft.Proxy.Net;

namespace Weft.Proxy.FastPath;

/// <summary>
/// One plain TCP connection to an upstream instance, reused for one HTTP/1.1 exchange at a time: a .NET
/// <see cref="System.Net.Sockets.Socket"/> with inline completions, or (the default, <c>WEFT_FAST_ENGINE=0</c> turns it off) an
/// <see cref="EpollSocket"/> (no receive before the upstream's bytes are there). The one place the two differ.
/// </summary>
internal sealed class UpstreamConnection : IDisposable
{
    private readonly Socket? _socket;
    private readonly EpollSocket? _epoll;

    public UpstreamConnection(Socket socket) => _socket = socket;

    public UpstreamConnection(EpollSocket socket) => _epoll = socket;

    /// <summary>Exchanges completed on this connection; a reused connection may have been closed by the upstream meanwhile.</summary>
    public int Uses { get; set; }

    public long IdleSince { get; set; }

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken token = default) =>
        _epoll is { } epoll ? epoll.ReceiveAsync(buffer, token) : _socket!.ReceiveAsync(buffer, SocketFlags.None, token);

    /// <summary>Sends all of <paramref name="data"/>.</summary>
    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder))]
    public async ValueTask SendAllAsync(ReadOnlyMemory<byte> data, CancellationToken token = default)
    {
        while (!data.IsEmpty)
        {
            var n = _epoll is { } epoll ? await epoll.SendAsync(data, token) : await _socket!.SendAsync(data, SocketFlags.None, token);
            data = data[n..];
        }
    }

    /// <summary>
    /// Whether a receive would not wait (data, FIN or an error): on an idle kept-alive connection, that the upstream
    /// closed it or sent bytes nobody asked for. With the engine, no syscall unless an edge came since the last short
    /// read; on a .NET socket, one poll.
    /// </summary>
    public bool Readable() => _epoll?.PollReadable() ?? _socket!.Poll(0, SelectMode.SelectRead);

    public void Dispose()
    {
        _socket?.Dispose();
        _epoll?.Dispose();
    }
}

/// <summary>
/// Idle keep-alive connections to one instance, newest first (a warm connection is the least likely to have been
/// closed by the upstream). A lock around a small array: uncontended, and no allocation per request.
/// </summary>
internal sealed class EndpointPool(EndPoint address, TimeProvider time, bool engine)
{
    /// <summary>More idle connections than this to one instance are closed rather than kept.</summary>
    public const int MaxIdle = 256;

    private readonly Lock _gate = new();
    private readonly UpstreamConnection[] _idle = new UpstreamConnection[MaxIdle];
    private int _count;

    public UpstreamConnection? TryRent()
    {
        while (true)
        {
            UpstreamConnection connection;
            lock (_gate)
            {
                if (_count == 0)
                    return null;
                connection = _idle[--_count];
                _idle[_count] = null!;
            }

            // A connection the upstream wrote on (or closed) while idle is not used: its bytes would answer the next
            // request (response queue poisoning); one it closed would fail it.
            if (time.GetElapsedTime(connection.IdleSince) < UpstreamPools.IdleTimeout && !connection.Readable())
                return connection;
            connection.Dispose();
        }
    }

    public void Return(UpstreamConnection connection)
    {
        connection.Uses++;
        connection.IdleSince = time.GetTimestamp();
        lock (_gate)
        {
            if (_count < MaxIdle)
            {
                _idle[_count++] = connection;
                return;
            }
        }

        connection.Dispose();
    }

    public async ValueTask<UpstreamConnection> ConnectAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (engine)
        {
            var epoll = EpollSocket.Create(address.AddressFamily == AddressFamily.Unspecified ? AddressFamily.InterNetwork : address.AddressFamily);
            epoll.InlineCompletions = InlineCompletions.Allowed;
            try
            {
                await ConnectWithinAsync(epoll.ConnectAsync, timeout, cancellationToken);
                return new UpstreamConnection(epoll);
            }
            catch
            {
                epoll.Dispose();
                throw;
            }
        }

        var socket = address is IPEndPoint ip
            ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        socket.NoDelay = true;
        // Only the fast path uses these sockets, and its continuations never block (see InlineCompletions).
        InlineCompletions.Set(socket, true);
        try
        {
            await ConnectWithinAsync(socket.ConnectAsync, timeout, cancellationToken);
            return new UpstreamConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async ValueTask ConnectWithinAsync(Func<EndPoint, CancellationToken, ValueTask> connect, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timer = new CancellationTokenSource(timeout, time);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        try
        {
            await connect(address, limit.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"connect timeout of {timeout.TotalMilliseconds:0} ms elapsed");
        }
    }

    /// <summary>Closes connections idle for longer than <paramref name="idle"/> (all of them for zero).</summary>
    public void Sweep(TimeSpan idle)
    {
        List<UpstreamConnection>? stale = null;
        lock (_gate)
        {
            var kept = 0;
            for (var i = 0; i < _count; i++)
            {
                var c = _idle[i];
                if (idle > TimeSpan.Zero && time.GetElapsedTime(c.IdleSince) < idle)
                    _idle[kept++] = c;
                else
                    (stale ??= []).Add(c);
            }

            for (var i = kept; i < _count; i++)
                _idle[i] = null!;
            _count = kept;
        }

        foreach (var c in stale ?? [])
            c.Dispose();
    }
}

/// <summary>The fast path's connection pools, one per instance address; idle connections are closed after <see cref="IdleTimeout"/>.</summary>
internal sealed class UpstreamPools : IDisposable
{
    /// <summary>Below the usual server keep-alive timeouts (nginx 75 s, Kestrel 130 s), so the proxy closes first.</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, EndpointPool> _pools = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly ITimer _sweeper;

    private readonly bool _engine;

    /// <summary><paramref name="engine"/>: connections on <see cref="EpollSocket"/> instead of <see cref="Socket"/> (on unless <c>WEFT_FAST_ENGINE=0</c>).</summary>
    public UpstreamPools(TimeProvider time, bool engine = false)
    {
        _time = time;
        _engine = engine && EpollEngine.IsSupported;
        _sweeper = time.CreateTimer(static s => ((UpstreamPools)s!).Sweep(IdleTimeout), this, IdleTimeout, IdleTimeout);
    }

    public EndpointPool For(LoadBalancing.EndpointState endpoint) =>
        _pools.TryGetValue(endpoint.HostPort, out var pool) ? pool : _pools.GetOrAdd(endpoint.HostPort, static (_, s) => new EndpointPool(
            IPAddress.TryParse(s.Endpoint.Address, out var ip) ? new IPEndPoint(ip, s.Endpoint.Port) : new DnsEndPoint(s.Endpoint.Address, s.Endpoint.Port), s.Time, s.Engine),
            (Endpoint: endpoint.Endpoint, Time: _time, Engine: _engine));

    private void Sweep(TimeSpan idle)
    {
        foreach (var pool in _pools.Values)
            pool.Sweep(idle);
    }

    public void Dispose()
    {
        _sweeper.Dispose();
        Sweep(TimeSpan.Zero);
    }
}
