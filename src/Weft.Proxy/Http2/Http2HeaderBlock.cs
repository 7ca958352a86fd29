namespace Weft.Proxy.Http2;

/// <summary>
/// A header block that HEADERS opened without END_HEADERS, gathered from its CONTINUATION frames (RFC 9113, 6.10),
/// for our client and server connections alike.
/// </summary>
/// <remarks>A struct held as a (non-readonly) field of its connection's read side; it must never be copied.</remarks>
internal struct Http2HeaderBlock
{
    private readonly int _limit;
    private readonly Http2ErrorCode _overLimitCode;
    private readonly string _overLimitMessage;
    private byte[] _bytes;
    private int _length;
    private int _streamId;
    private bool _endStream;

    /// <param name="initialSize">The buffer to start with (0: none until a block needs one).</param>
    /// <param name="limit">The most bytes a block may have; past it the connection fails with <paramref name="overLimitCode"/>.</param>
    public Http2HeaderBlock(int initialSize, int limit, Http2ErrorCode overLimitCode, string overLimitMessage)
    {
        _bytes = initialSize == 0 ? [] : new byte[initialSize];
        _limit = limit;
        _overLimitCode = overLimitCode;
        _overLimitMessage = overLimitMessage;
    }

    /// <summary>Whether a block is open: every frame until its END_HEADERS must be its CONTINUATION.</summary>
    public readonly bool IsOpen => _streamId != 0;

    /// <summary>
    /// Takes a HEADERS frame's fragment: true when the frame has END_HEADERS (the fragment is the whole block, for the
    /// caller to decode now); otherwise opens a block with it for the CONTINUATIONs to finish.
    /// </summary>
    public bool TakesWhole(FrameHeader header, ReadOnlySpan<byte> fragment, out bool endStream)
    {
        endStream = (header.Flags & FrameFlags.EndStream) != 0;
        if ((header.Flags & FrameFlags.EndHeaders) != 0)
            return true;
        _streamId = header.StreamId;
        _endStream = endStream;
        _length = 0;
        Append(fragment);
        return false;
    }

    /// <summary>
    /// Takes the next frame while a block is open; true when its END_HEADERS closed the block, with the whole block
    /// (valid until the next block opens). Anything but a CONTINUATION of the same stream is a protocol error.
    /// </summary>
    public bool Continue(FrameHeader header, ReadOnlySpan<byte> payload, out int streamId, out bool endStream, out ReadOnlySpan<byte> block)
    {
        if (header.Type != FrameType.Continuation || header.StreamId != _streamId)
            throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "a header block was interrupted before its END_HEADERS");
        Append(payload);
        streamId = _streamId;
        endStream = _endStream;
        if ((header.Flags & FrameFlags.EndHeaders) == 0)
        {
            block = default;
            return false;
        }

        block = _bytes.AsSpan(0, _length);
        _streamId = 0;
        _length = 0;
        return true;
    }

    private void Append(ReadOnlySpan<byte> fragment)
    {
        if (_length + fragment.Length > _limit)
            throw new Http2ProtocolException(_overLimitCode, _overLimitMessage);
        if (_bytes.Length - _length < fragment.Length)
            Array.Resize(ref _bytes, Math.Max(_length + fragment.Length, Math.Max(_bytes.Length * 2, 4096)));
        fragment.CopyTo(_bytes.AsSpan(_length));
        _length += fragment.Length;
    }
}
