using System.Runtime.CompilerServices;

namespace Weft.Proxy.Http2;

/// <summary>
/// Keep-alive PINGs of a client connection to another sidecar: after <see cref="Interval"/> without a frame from the
/// server, the client sends a PING; if nothing at all arrives within <see cref="Timeout"/> of it, the connection is
/// taken for dead and failed (its open streams fail as reset, the pool opens a new one for the next request). A peer
/// that vanished without a FIN or RST (a host gone, a partition, a connection-tracking middlebox that forgot the flow)
/// otherwise holds every request sent on the connection until TCP gives up, about 15 minutes. Linkerd's proxies ping
/// the same way (10 s interval); <see cref="Default"/> gives the answer 5 s, enough for a loaded 2-core host.
/// </summary>
/// <param name="Interval">How long the server may be silent before a PING; zero turns keep-alive off.</param>
/// <param name="Timeout">How long a PING may go unanswered (no frame of any kind) before the connection is failed.</param>
internal readonly record struct Http2KeepAlive(TimeSpan Interval, TimeSpan Timeout)
{
    public static readonly Http2KeepAlive Default = new(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5));
    public static readonly Http2KeepAlive Off = new(TimeSpan.Zero, TimeSpan.Zero);

    public bool Enabled => Interval > TimeSpan.Zero && Timeout > TimeSpan.Zero;
}

/// <summary>The keep-alive timer: one one-shot timer per connection, re-armed for the next point it must look.</summary>
internal sealed partial class Http2ClientConnection
{
    private Http2KeepAlive _keepAlive;
    private ITimer? _pingTimer;

    // Written by the read loop only (one writer), read by the timer: how many reads brought bytes, and when the last did.
    private long _reads;
    private long _lastReadAt;

    // Under the lock.
    private bool _pingOutstanding;
    private long _readsAtPing;
    private ulong _pings;

    /// <summary>PINGs this connection sent for keep-alive (tests, and what the admin view may show).</summary>
    internal ulong KeepAlivePings
    {
        get
        {
            lock (_sync)
                return _pings;
        }
    }

    /// <summary>Called by the read loop for every read that brought bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Received()
    {
        if (!_keepAlive.Enabled)
            return;
        Volatile.Write(ref _lastReadAt, _time.GetTimestamp());
        Volatile.Write(ref _reads, _reads + 1);
    }

    /// <summary>Starts the keep-alive timer once the connection is open (the server's SETTINGS arrived).</summary>
    private void StartKeepAlive(Http2KeepAlive keepAlive)
    {
        if (!keepAlive.Enabled)
            return;
        lock (_sync)
        {
            if (_failure is not null)
                return;
            _keepAlive = keepAlive;
            _lastReadAt = _time.GetTimestamp();
            _pingTimer = _time.CreateTimer(static s => ((Http2ClientConnection)s!).OnKeepAliveTimer(), this, keepAlive.Interval, System.Threading.Timeout.InfiniteTimeSpan);
        }
    }

    private void OnKeepAliveTimer()
    {
        var now = _time.GetTimestamp();
        var reads = Volatile.Read(ref _reads);
        TimeSpan next;
        var ping = false;
        lock (_sync)
        {
            if (_failure is not null)
                return;
            if (_pingOutstanding && reads == _readsAtPing)
            {
                next = TimeSpan.Zero;
            }
            else
            {
                _pingOutstanding = false;
                var silent = _time.GetElapsedTime(Volatile.Read(ref _lastReadAt), now);
                if (silent >= _keepAlive.Interval)
                {
                    _writes.Length += Frames.WritePing(_writes.Reserve(FrameHeader.Size + 8), ack: false, ++_pings);
                    _pingOutstanding = true;
                    _readsAtPing = reads;
                    ping = true;
                    next = _keepAlive.Timeout;
                }
                else
                {
                    next = _keepAlive.Interval - silent;
                }
            }
        }

        if (next == TimeSpan.Zero)
        {
            Fail(new IOException($"the server did not answer a keep-alive PING within {_keepAlive.Timeout.TotalSeconds:0.###} s " +
                $"(sent after {_keepAlive.Interval.TotalSeconds:0.###} s without a frame from it): the connection is taken for dead"), Http2ErrorCode.NoError);
            return;
        }

        if (ping)
            StartFlush();
        // Outside the lock: a timer may run its callback from Change.
        _pingTimer?.Change(next, System.Threading.Timeout.InfiniteTimeSpan);
    }
}
