namespace Weft.Proxy.Http2;

/// <summary>How a client connection ends: retired by its pool (GOAWAY, then the close), closed at once, or failed.</summary>
internal sealed partial class Http2ClientConnection
{
    /// <summary>How long a retired connection waits for its GOAWAY to be written before it closes anyway (a dead peer).</summary>
    public static readonly TimeSpan GoAwayGrace = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Stops taking streams; once the last one is released the connection sends GOAWAY(NO_ERROR) and closes (RFC 9113
    /// 6.8: the server learns the close is deliberate and no stream of its own is lost).
    /// </summary>
    public void Retire()
    {
        bool close;
        lock (_sync)
        {
            _goingAway = true;
            _retired = true;
            close = _open == 0;
        }

        if (close)
            CloseWithGoAway();
    }

    /// <summary>
    /// Queues GOAWAY(NO_ERROR) (last stream id 0: the server opens none) and closes once the flush has written it, or
    /// after <see cref="GoAwayGrace"/> if the write does not finish.
    /// </summary>
    private void CloseWithGoAway()
    {
        bool start;
        lock (_sync)
        {
            if (_failure is not null || _closeAfterFlush)
                return;
            _closeAfterFlush = true;
            _writes.Length += Frames.WriteGoAway(_writes.Reserve(FrameHeader.Size + 8), 0, Http2ErrorCode.NoError);
            StartFlushLocked(out start);
            _graceTimer = _time.CreateTimer(static s => ((Http2ClientConnection)s!).Close(), this, GoAwayGrace, Timeout.InfiniteTimeSpan);
        }

        if (start)
            _ = FlushAsync();
    }

    /// <summary>Closes at once: streams still open fail.</summary>
    public void Close() => Fail(new ObjectDisposedException(nameof(Http2ClientConnection), "the connection was closed"), Http2ErrorCode.NoError);

    /// <summary>
    /// Fails the connection: streams not yet sent (or above a GOAWAY's last id) fail as not processed, the others as
    /// reset; the transport is closed. <paramref name="code"/> other than NO_ERROR is sent in a GOAWAY first (RFC 9113
    /// 5.4.1): at once when no write is running; otherwise after the running one, which the transport cannot interleave
    /// with another, and the transport closes when it is written or after <see cref="GoAwayGrace"/> (a peer that stopped
    /// reading). The streams fail at once either way.
    /// </summary>
    private void Fail(Exception error, Http2ErrorCode code)
    {
        List<Http2ClientStream> failed;
        var closeNow = true;
        lock (_sync)
        {
            if (_failure is not null)
                return;
            _graceTimer?.Dispose();
            _graceTimer = null;
            if (code != Http2ErrorCode.NoError)
            {
                var to = _writes.Reserve(FrameHeader.Size + 8);
                _writes.Length += Frames.WriteGoAway(to, 0, code);
                if (_writes.Flushing)
                {
                    closeNow = false;
                    _closeAfterFailedFlush = true;
                    _graceTimer = _time.CreateTimer(static s => ((Http2ClientConnection)s!).CloseTransport(), this, GoAwayGrace, Timeout.InfiniteTimeSpan);
                }
                else
                {
                    try
                    {
                        // Best effort and small: the connection is going anyway.
                        _transport.Write(_writes.Pending);
                    }
                    catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException)
                    {
                    }
                }
            }

            _failure = error;
            if (closeNow)
                _writes.Length = 0;
            StopKeepAlive();
            failed = [.. _streams.Values];
            foreach (var stream in failed)
            {
                // A response already received whole stays readable; the rest fail.
                if (!stream.ResponseEnded)
                {
                    stream.Error ??= stream.Id > _goAwayLastId
                        ? new Http2NotProcessedException("the server went away before processing this stream", error)
                        : new Http2StreamException(Http2ErrorCode.InternalError, "the connection to the server was lost", error);
                }

                stream.RequestEnded = true;
            }

            _streams.Clear();
        }

        if (closeNow)
            CloseTransport();
        _settingsReceived.TrySetException(error);
        foreach (var stream in failed)
            Wake(stream, stream.Error ?? new IOException("the connection to the server was lost", error));
        Changed?.Invoke(this);
    }

    /// <summary>Closes the transport (again is harmless): the read loop ends, a write still running fails.</summary>
    private void CloseTransport()
    {
        try
        {
            _transport.Dispose();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
    }
}
