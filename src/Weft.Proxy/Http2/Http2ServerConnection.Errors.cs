namespace Weft.Proxy.Http2;

/// <summary>
/// Stream errors on streams that are not open, and the SETTINGS acknowledgement timeout: what RFC 9113 asks of a server
/// facing any client, kept off the path of well-behaved traffic (nothing here runs per frame of a healthy stream).
/// </summary>
internal sealed partial class Http2ServerConnection
{
    /// <summary>How long the client has to acknowledge our SETTINGS before the connection fails with SETTINGS_TIMEOUT (RFC 9113 6.5.3).</summary>
    public static readonly TimeSpan SettingsTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How many of the streams we reset last are remembered, to drop what their client sent before seeing our RST_STREAM.</summary>
    private const int RememberedResets = 256;

    // Under the lock: the ids of the last streams we reset (ring, allocated at the first reset).
    private int[]? _resetByUs;
    private uint _resetCount;

    // The read loop's: the stream whose HEADERS made it depend on itself (5.3.1), refused when its block completes.
    private int _selfDependent;

    // Written by the read loop, read by the timer: our SETTINGS still waits for its ACK.
    private bool _settingsAckDue;

    /// <summary>Under the lock: RST_STREAM for <paramref name="id"/>, remembered so the client's frames still in flight are dropped (5.1).</summary>
    private void WriteResetLocked(int id, Http2ErrorCode code)
    {
        _writes.Length += Frames.WriteRstStream(_writes.Reserve(FrameHeader.Size + 4), id, code);
        (_resetByUs ??= new int[RememberedResets])[(int)(_resetCount++ % RememberedResets)] = id;
    }

    /// <summary>
    /// Under the lock: whether we reset stream <paramref name="id"/> lately. RFC 9113 5.1: an endpoint that sent
    /// RST_STREAM MUST ignore the frames the peer sent before it saw it; any other frame on a closed stream is the client's error.
    /// </summary>
    private bool ResetByUsLocked(int id) => _resetByUs is { } ids && Array.IndexOf(ids, id) >= 0;

    /// <summary>
    /// PRIORITY's stream errors (6.3 wrong length, 5.3.1 self-dependency): an open stream is reset; an idle one cannot be
    /// (6.4), so that is a connection error (5.4.1 allows one for any stream error); a closed one is left alone.
    /// </summary>
    private protected override void OnStreamError(int streamId, Http2ErrorCode code, string message)
    {
        Http2ServerStream? stream;
        lock (_sync)
        {
            if (streamId > _lastStreamId)
                throw new Http2ProtocolException(code, message);
            _streams.TryGetValue(streamId, out stream);
        }

        if (stream is not null)
            ResetStream(stream, code);
    }

    /// <summary>Notes a HEADERS frame whose priority fields make its stream depend on itself (5.3.1): a stream error once its block is read.</summary>
    private void CheckSelfDependency(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if ((header.Flags & FrameFlags.Priority) != 0 && DependsOnItself(header.StreamId, FramePayload.Unpad(header, payload, out _)))
            _selfDependent = header.StreamId;
    }

    /// <summary>The connection's one timer: the SETTINGS acknowledgement at its first tick, then the idle timeout.</summary>
    private void OnTimer()
    {
        if (!FailIfSettingsUnacknowledged())
            CloseIfIdle();
    }

    /// <summary>
    /// The connection timer's check (it first fires <see cref="SettingsTimeout"/> after our SETTINGS went out): a client
    /// that has not acknowledged them by then gets GOAWAY SETTINGS_TIMEOUT (6.5.3). True when it failed the connection.
    /// </summary>
    private bool FailIfSettingsUnacknowledged()
    {
        if (!Volatile.Read(ref _settingsAckDue))
            return false;
        lock (_sync)
            FailLocked(Http2ErrorCode.SettingsTimeout);
        StartFlush();
        _input.CancelPendingRead();
        return true;
    }
}
