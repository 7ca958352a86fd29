using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Weft.Core.Mesh;

namespace Weft.Proxy.FastPath;

/// <summary>One plain TCP connection to an upstream instance, reused for one HTTP/1.1 exchange at a time.</summary>
internal sealed class UpstreamConnection(Socket socket) : IDisposable
{
    public Socket Socket { get; } = socket;

    /// <summary>Exchanges completed on this connection; a reused connection may have been closed by the upstream meanwhile.</summary>
    public int Uses { get; set; }

    public long IdleSince { get; set; }

    public void Dispose() => Socket.Dispose();
}

/// <summary>
/// Idle keep-alive connections to one instance, newest first (a warm connection is the least likely to have been
/// closed by the upstream). A lock around a small array: uncontended, and no allocation per request.
/// </summary>
internal sealed class EndpointPool(EndPoint address, TimeProvider time)
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

            if (time.GetElapsedTime(connection.IdleSince) < UpstreamPools.IdleTimeout)
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
        var socket = address is IPEndPoint ip
            ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        socket.NoDelay = true;
        // Only the fast path uses these sockets, and its continuations never block (see InlineCompletions).
        InlineCompletions.Set(socket, true);
        try
        {
            using var timer = new CancellationTokenSource(timeout, time);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
            try
            {
                await socket.ConnectAsync(address, limit.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"connect timeout of {timeout.TotalMilliseconds:0} ms elapsed");
            }

            return new UpstreamConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
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

    public UpstreamPools(TimeProvider time)
    {
        _time = time;
        _sweeper = time.CreateTimer(static s => ((UpstreamPools)s!).Sweep(IdleTimeout), this, IdleTimeout, IdleTimeout);
    }

    public EndpointPool For(MeshEndpoint endpoint) =>
        _pools.TryGetValue(endpoint.HostPort, out var pool) ? pool : _pools.GetOrAdd(endpoint.HostPort, static (_, s) => new EndpointPool(
            IPAddress.TryParse(s.Endpoint.Address, out var ip) ? new IPEndPoint(ip, s.Endpoint.Port) : new DnsEndPoint(s.Endpoint.Address, s.Endpoint.Port), s.Time),
            (Endpoint: endpoint, Time: _time));

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
