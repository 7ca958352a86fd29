namespace Weft.Proxy.Http2;

/// <summary>
/// The frames a connection (client or server) queued and not yet written: appended under the connection's lock, then
/// handed whole to one write by whoever finds no flush running. Two buffers swap so appending goes on during a write.
/// </summary>
/// <remarks>
/// A struct held as a (non-readonly) field of its connection, so it costs no object of its own and no indirection on
/// the hot path; it must never be copied. Every member is called under the owner's lock.
/// </remarks>
internal struct Http2WriteBuffer
{
    private byte[] _pending = new byte[32 * 1024];
    private byte[] _writing = new byte[32 * 1024];

    public Http2WriteBuffer()
    {
    }

    /// <summary>Bytes appended and not yet taken; the writer of a reserved span adds what it wrote.</summary>
    public int Length;

    /// <summary>How many writes <see cref="Take"/> has handed out (tests, and the batching's effect).</summary>
    public long Writes;

    /// <summary>Whether a flush runs now (it owns what <see cref="Take"/> returned).</summary>
    public bool Flushing;

    /// <summary>What is pending now (for a last best-effort write when the connection fails).</summary>
    public readonly ReadOnlySpan<byte> Pending => _pending.AsSpan(0, Length);

    /// <summary>Room for <paramref name="size"/> more bytes in the pending buffer.</summary>
    public Span<byte> Reserve(int size)
    {
        if (_pending.Length - Length < size)
            Array.Resize(ref _pending, Math.Max(_pending.Length * 2, Length + size));
        return _pending.AsSpan(Length, size);
    }

    /// <summary>Appends a header block as one HEADERS frame and as many CONTINUATIONs as <paramref name="maxFrameSize"/> asks (RFC 9113, 6.10).</summary>
    public void AddHeaderBlock(int streamId, ReadOnlySpan<byte> block, bool endStream, int maxFrameSize)
    {
        var frames = Math.Max(1, (block.Length + maxFrameSize - 1) / maxFrameSize);
        var to = Reserve(block.Length + frames * FrameHeader.Size);
        var n = 0;
        var first = true;
        do
        {
            var part = Math.Min(block.Length, maxFrameSize);
            var last = part == block.Length;
            byte flags = last ? FrameFlags.EndHeaders : (byte)0;
            if (first && endStream)
                flags |= FrameFlags.EndStream;
            new FrameHeader(part, first ? FrameType.Headers : FrameType.Continuation, flags, streamId).Write(to[n..]);
            block[..part].CopyTo(to[(n + FrameHeader.Size)..]);
            n += FrameHeader.Size + part;
            block = block[part..];
            first = false;
        }
        while (!block.IsEmpty);
        Length += n;
    }

    /// <summary>Whether the caller must start a flush (outside the lock): something pending, none running, not failed.</summary>
    public bool TryStartFlush(bool failed)
    {
        var start = !Flushing && Length > 0 && !failed;
        if (start)
            Flushing = true;
        return start;
    }

    /// <summary>Swaps the buffers and returns what was pending, for the running flush to write outside the lock.</summary>
    public ReadOnlyMemory<byte> Take()
    {
        (_pending, _writing) = (_writing, _pending);
        var taken = _writing.AsMemory(0, Length);
        Length = 0;
        Writes++;
        return taken;
    }
}
