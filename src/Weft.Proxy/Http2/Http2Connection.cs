using System.Buffers.Binary;

namespace Weft.Proxy.Http2;

/// <summary>
/// What our client and server HTTP/2 connections do alike: one lock over all state, frames appended to one pending
/// buffer under it, and one flush at a time started by whoever finds none running. How a flush writes and how a
/// connection fails stay with each side.
/// </summary>
internal abstract partial class Http2Connection : Net.IBatchEndWork
{
    /// <summary>
    /// Whether a flush asked for on an epoll engine's thread waits for the end of the engine's batch of events
    /// (<c>WEFT_FAST_H2_BATCH=0</c>: never, to compare): the frames of every request or response that batch produced for
    /// this connection then leave in one write (one TLS record, one send) instead of one each.
    /// </summary>
    internal static bool BatchFlushes { get; } = Environment.GetEnvironmentVariable("WEFT_FAST_H2_BATCH") != "0";

    private protected readonly Lock _sync = new();
    private protected Http2WriteBuffer _writes = new();

    // The peer's settings that shape what we send.
    private protected int _peerInitialWindow = 65535;
    private protected int _peerMaxFrameSize = 16384;
    private long _windowDelta;
    private long _connectionSendWindow = 65535;

    /// <summary>Whether the connection failed (under the lock): nothing more is flushed.</summary>
    private protected abstract bool FailedLocked { get; }

    /// <summary>Writes what is pending, then what was appended meanwhile, until nothing is; clears <see cref="Http2WriteBuffer.Flushing"/> at the end.</summary>
    private protected abstract ValueTask FlushAsync();

    /// <summary>Writes this connection has made to its transport so far (each one TLS record when over TLS).</summary>
    internal long Writes
    {
        get
        {
            lock (_sync)
                return _writes.Writes;
        }
    }

    // Under the lock: a flush waits for the end of the engine's batch (see BatchFlushes).
    private bool _flushDeferred;

    /// <summary>
    /// Starts a flush unless one runs (or nothing is pending); on an epoll engine's thread, at the end of the engine's
    /// batch of events instead, so what other completions of the batch append goes in the same write.
    /// </summary>
    internal void StartFlush()
    {
        bool start;
        lock (_sync)
        {
            if (_flushDeferred)
                return;
            // Queuing on the engine's own list takes no lock and calls nothing back, so it is done under ours.
            if (BatchFlushes && !_writes.Flushing && _writes.Length > 0 && !FailedLocked && Net.EpollEngine.DeferToBatchEnd(this))
            {
                _flushDeferred = true;
                return;
            }

            StartFlushLocked(out start);
        }

        if (start)
            _ = FlushAsync();
    }

    /// <summary>Whether a flush runs, or waits for the end of the engine's batch (under the lock).</summary>
    private protected bool FlushPendingLocked => _writes.Flushing || _flushDeferred;

    /// <summary>A deferred flush found nothing to write (another flush took it, or the connection failed): release whoever waits for it.</summary>
    private protected virtual void DeferredFlushFoundNothing()
    {
    }

    void Net.IBatchEndWork.OnBatchEnd()
    {
        bool start;
        lock (_sync)
        {
            _flushDeferred = false;
            StartFlushLocked(out start);
        }

        if (start)
            _ = FlushAsync();
        else
            DeferredFlushFoundNothing();
    }

    /// <summary>Whether the caller must start <see cref="FlushAsync"/> (outside the lock).</summary>
    private protected void StartFlushLocked(out bool start) => start = _writes.TryStartFlush(FailedLocked);

    /// <summary>
    /// Under the lock: applies a SETTINGS frame's settings through <paramref name="onSetting"/>, moves the open
    /// streams' send windows by an INITIAL_WINDOW_SIZE change and queues the ACK (RFC 9113, 6.5.3 and 6.9.2).
    /// Returns how far the windows moved (above 0: window waiters may go on).
    /// </summary>
    private protected long ApplySettingsLocked<TStream>(ReadOnlySpan<byte> payload, Action<SettingId, uint> onSetting, Dictionary<int, TStream> streams)
        where TStream : IHttp2SendWindow
    {
        _windowDelta = 0;
        Frames.ReadSettings(payload, onSetting);
        Http2Settings.ApplyWindowDelta(streams, _windowDelta);
        _writes.Length += Frames.WriteSettingsAck(_writes.Reserve(FrameHeader.Size));
        return _windowDelta;
    }

    /// <summary>Takes the peer's SETTINGS_INITIAL_WINDOW_SIZE (called back from a setting's handler), keeping the change for the open streams.</summary>
    private protected void SetPeerInitialWindow(uint value, string tooLargeMessage)
    {
        if (value > int.MaxValue)
            throw new Http2ProtocolException(Http2ErrorCode.FlowControlError, tooLargeMessage);
        _windowDelta += (long)value - _peerInitialWindow;
        _peerInitialWindow = (int)value;
    }

    /// <summary>The peer's SETTINGS_MAX_FRAME_SIZE, checked to be in range (6.5.2).</summary>
    private protected static int CheckedMaxFrameSize(uint value) => value is < 16384 or > 16777215
        ? throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "MAX_FRAME_SIZE out of range")
        : (int)value;

    /// <summary>
    /// Under the lock: how many of <paramref name="length"/> bytes may go in one DATA frame now (the peer's frame size,
    /// the stream's and the connection's send windows), taken from the connection's window; the caller takes them from the stream's.
    /// </summary>
    private protected int TakeSendWindowLocked(int length, long streamWindow)
    {
        var allowed = (int)Math.Min(Math.Min(length, _peerMaxFrameSize), Math.Min(streamWindow, _connectionSendWindow));
        if (allowed > 0)
            _connectionSendWindow -= allowed;
        return allowed;
    }

    /// <summary>Under the lock: a WINDOW_UPDATE for the connection (6.9.1); 0 and a window past 2^31-1 are connection errors.</summary>
    private protected void AddConnectionSendWindowLocked(int increment, string zeroMessage)
    {
        if (increment == 0)
            throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, zeroMessage);
        _connectionSendWindow += increment;
        if (_connectionSendWindow > int.MaxValue)
            throw new Http2ProtocolException(Http2ErrorCode.FlowControlError, "the connection's send window over 2^31-1");
    }

    /// <summary>The read side's header block in progress (HEADERS without END_HEADERS, then CONTINUATION).</summary>
    private protected Http2HeaderBlock _block;

    private protected Http2Connection(Http2HeaderBlock block) => _block = block;

    /// <summary>
    /// One frame from the peer, under no lock: a header block in progress takes it first (only its CONTINUATION may
    /// come); otherwise the frame's shape is checked as both sides check it (RFC 9113, 6) and it goes to its handler.
    /// PRIORITY and unknown frame types are ignored (5.5); PUSH_PROMISE is refused (push is never enabled either way).
    /// </summary>
    private protected void DispatchFrame(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (_block.IsOpen)
        {
            if (_block.Continue(header, payload, out var id, out var endStream, out var block))
                OnHeaderBlock(id, block, endStream);
            return;
        }

        switch (header.Type)
        {
            case FrameType.Data:
                OnData(header, payload);
                break;
            case FrameType.Headers:
                OnHeaders(header, payload);
                break;
            case FrameType.Priority:
                if (header.StreamId == 0)
                    throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "PRIORITY on stream 0");
                if (payload.Length != 5)
                    OnStreamError(header.StreamId, Http2ErrorCode.FrameSizeError, "a PRIORITY frame not 5 bytes long");
                else if (DependsOnItself(header.StreamId, payload))
                    OnStreamError(header.StreamId, Http2ErrorCode.ProtocolError, "a stream depending on itself");
                break;
            case FrameType.RstStream:
                if (header.StreamId == 0)
                    throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "RST_STREAM on stream 0");
                if (payload.Length != 4)
                    throw new Http2ProtocolException(Http2ErrorCode.FrameSizeError, "an RST_STREAM not 4 bytes long");
                OnReset(header.StreamId, (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(payload));
                break;
            case FrameType.Settings:
                OnSettings(header, payload);
                break;
            case FrameType.PushPromise:
                throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "PUSH_PROMISE while push is disabled");
            case FrameType.Ping:
                if (header.StreamId != 0)
                    throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "PING on a stream");
                if (payload.Length != 8)
                    throw new Http2ProtocolException(Http2ErrorCode.FrameSizeError, "a PING not 8 bytes long");
                ReplyToPing(header, payload);
                break;
            case FrameType.GoAway:
                if (header.StreamId != 0)
                    throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "GOAWAY on a stream");
                if (payload.Length < 8)
                    throw new Http2ProtocolException(Http2ErrorCode.FrameSizeError, "a GOAWAY under 8 bytes");
                OnGoAway((int)(BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7FFFFFFF), (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(payload[4..]));
                break;
            case FrameType.WindowUpdate:
                if (payload.Length != 4)
                    throw new Http2ProtocolException(Http2ErrorCode.FrameSizeError, "a WINDOW_UPDATE not 4 bytes long");
                OnWindowUpdate(header.StreamId, (int)(BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7FFFFFFF));
                break;
            case FrameType.Continuation:
                throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "CONTINUATION without a header block to continue");
            default:
                break;
        }
    }

    /// <summary>Whether priority fields (a stream dependency first) make stream <paramref name="streamId"/> depend on itself (RFC 9113 5.3.1).</summary>
    private protected static bool DependsOnItself(int streamId, ReadOnlySpan<byte> priority) =>
        (BinaryPrimitives.ReadUInt32BigEndian(priority) & 0x7FFF_FFFF) == (uint)streamId;

    /// <summary>
    /// A stream error (RFC 9113 5.4.2) the shared checks found on <paramref name="streamId"/> (not 0): by default taken
    /// as a connection error, which 5.4.1 allows; a side that can reset the stream instead overrides this.
    /// </summary>
    private protected virtual void OnStreamError(int streamId, Http2ErrorCode code, string message) =>
        throw new Http2ProtocolException(code, message);

    /// <summary>DATA (stream id not yet checked).</summary>
    private protected abstract void OnData(FrameHeader header, ReadOnlySpan<byte> payload);

    /// <summary>HEADERS (stream id not yet checked); a whole block goes on to <see cref="OnHeaderBlock"/>, a split one into <see cref="_block"/>.</summary>
    private protected abstract void OnHeaders(FrameHeader header, ReadOnlySpan<byte> payload);

    /// <summary>A whole header block of stream <paramref name="streamId"/>.</summary>
    private protected abstract void OnHeaderBlock(int streamId, ReadOnlySpan<byte> block, bool endStream);

    /// <summary>RST_STREAM on a stream other than 0.</summary>
    private protected abstract void OnReset(int streamId, Http2ErrorCode code);

    /// <summary>SETTINGS (its ACK included).</summary>
    private protected abstract void OnSettings(FrameHeader header, ReadOnlySpan<byte> payload);

    /// <summary>GOAWAY on stream 0.</summary>
    private protected abstract void OnGoAway(int lastStreamId, Http2ErrorCode code);

    /// <summary>WINDOW_UPDATE, the increment's reserved bit cleared.</summary>
    private protected abstract void OnWindowUpdate(int streamId, int increment);

    /// <summary>Answers a PING (already checked well-formed) unless it is itself an answer (RFC 9113, 6.7).</summary>
    private protected void ReplyToPing(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if ((header.Flags & FrameFlags.Ack) != 0)
            return;
        lock (_sync)
            _writes.Length += Frames.WritePing(_writes.Reserve(FrameHeader.Size + 8), ack: true, BinaryPrimitives.ReadUInt64BigEndian(payload));
        StartFlush();
    }
}
