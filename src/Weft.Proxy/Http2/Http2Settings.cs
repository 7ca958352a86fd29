namespace Weft.Proxy.Http2;

/// <summary>A stream whose send window a peer's SETTINGS_INITIAL_WINDOW_SIZE moves (RFC 9113, 6.9.2).</summary>
internal interface IHttp2SendWindow
{
    long SendWindow { get; set; }
}

/// <summary>The SETTINGS handling our client and server connections share; what each setting means stays theirs.</summary>
internal static class Http2Settings
{
    /// <summary>Checks a SETTINGS frame's framing; true when it is an ACK (nothing to apply), false when it carries settings.</summary>
    public static bool IsAck(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.StreamId != 0)
            throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "SETTINGS on a stream");
        if ((header.Flags & FrameFlags.Ack) == 0)
            return false;
        if (payload.Length != 0)
            throw new Http2ProtocolException(Http2ErrorCode.FrameSizeError, "a SETTINGS ACK with a payload");
        return true;
    }

    /// <summary>Moves every open stream's send window by <paramref name="delta"/> (6.9.2); a window past 2^31-1 is a connection error.</summary>
    /// <remarks>Generic over the stream type so the dictionary's enumerator stays a struct (no allocation).</remarks>
    public static void ApplyWindowDelta<TStream>(Dictionary<int, TStream> streams, long delta)
        where TStream : IHttp2SendWindow
    {
        if (delta == 0)
            return;
        foreach (var stream in streams.Values)
        {
            stream.SendWindow += delta;
            if (stream.SendWindow > int.MaxValue)
                throw new Http2ProtocolException(Http2ErrorCode.FlowControlError, "INITIAL_WINDOW_SIZE overflows a stream's window");
        }
    }
}
