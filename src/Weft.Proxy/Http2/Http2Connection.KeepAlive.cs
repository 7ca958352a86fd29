using System.Runtime.CompilerServices;

namespace Weft.Proxy.Http2;

/// <summary>
/// The keep-alive of both sides (see <see cref="Http2KeepAlive"/>): one one-shot timer per connection, re-armed for the
/// next point it must look; the read loop stamps every read that brought bytes.
/// </summary>
internal abstract partial class Http2Connection
{
    private Http2KeepAlive _keepAlive;
    private TimeProvider _keepAliveTime = TimeProvider.System;
    private ITimer? _pingTimer;

    // Written by the read loop only (one writer), read by the timer: how many reads brought bytes, and when the last did.
    private long _reads;
    private long _lastReadAt;

    // Under the lock.
    private bool _pingOutstanding;
    private long _readsAtPing;
    private ulong _pings;

    /// <summary>Keep-alive PINGs this connection sent (tests).</summary>
    internal ulong KeepAlivePings
    {
        get
        {
            lock (_sync)
                return _pings;
        }
    }

    /// <summary>The peer stopped answering PINGs sent with <paramref name="settings"/>: the side fails the connection (its streams fail or are aborted).</summary>
    private protected abstract void KeepAliveFailed(Http2KeepAlive settings);

    /// <summary>Called by the read loop for every read that brought bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected void Received()
    {
        if (_pingTimer is null)
            return;
        Volatile.Write(ref _lastReadAt, _keepAliveTime.GetTimestamp());
        Volatile.Write(ref _reads, _reads + 1);
    }

    /// <summary>Starts pinging once the connection is open; stopped by <see cref="StopKeepAlive"/>.</summary>
    private protected void StartKeepAlive(Http2KeepAlive keepAlive, TimeProvider time)
    {
        if (!keepAlive.Enabled)
            return;
        lock (_sync)
        {
            if (FailedLocked)
                return;
            _keepAlive = keepAlive;
            _keepAliveTime = time;
            _lastReadAt = time.GetTimestamp();
            _pingTimer = time.CreateTimer(static s => ((Http2Connection)s!).OnKeepAliveTimer(), this, keepAlive.Interval, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Under the lock or not: the timer stops (the connection failed or closed).</summary>
    private protected void StopKeepAlive() => _pingTimer?.Dispose();

    private void OnKeepAliveTimer()
    {
        var now = _keepAliveTime.GetTimestamp();
        var reads = Volatile.Read(ref _reads);
        TimeSpan next;
        var ping = false;
        lock (_sync)
        {
            if (FailedLocked)
                return;
            if (_pingOutstanding && reads == _readsAtPing)
            {
                next = TimeSpan.Zero;
            }
            else
            {
                _pingOutstanding = false;
                var silent = _keepAliveTime.GetElapsedTime(Volatile.Read(ref _lastReadAt), now);
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
            StopKeepAlive();
            _keepAlive.Dead?.Add();
            KeepAliveFailed(_keepAlive);
            return;
        }

        if (ping)
            StartFlush();
        // Outside the lock: a timer may run its callback from Change.
        _pingTimer?.Change(next, Timeout.InfiniteTimeSpan);
    }
}
