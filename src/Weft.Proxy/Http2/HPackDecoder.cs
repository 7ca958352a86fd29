namespace Weft.Proxy.Http2;

/// <summary>
/// HPACK decoder (RFC 7541): static and dynamic table (with size updates up to <paramref name="maxTableSize"/>), Huffman
/// strings, integer overflow and header-list size limits. One per connection direction: its dynamic table is that
/// connection's. Malformed input throws <see cref="Http2ProtocolException"/> with <see cref="Http2ErrorCode.CompressionError"/>;
/// so does a header list over <paramref name="maxHeaderListSize"/> (name + value + 32 per field), since a block given up
/// halfway leaves the dynamic table out of step with the peer's and the connection cannot go on.
/// </summary>
internal sealed class HPackDecoder(int maxTableSize = 4096, int maxHeaderListSize = 64 * 1024)
{
    private readonly DynamicTable _table = new(maxTableSize);

    // Huffman-decoded strings, and a dynamic-table name copied before the insert that may evict it. It grows on
    // demand and is kept, so the steady path allocates nothing; a span into an outgrown array stays valid for its field.
    private byte[] _scratch = [];

    public int MaxTableSize { get; } = maxTableSize;

    public int MaxHeaderListSize { get; } = maxHeaderListSize;

    /// <summary>The dynamic table's current size limit, as last set by the peer's size update.</summary>
    internal int TableMaxSize => _table.MaxSize;

    /// <summary>The dynamic table's size by the 32-byte overhead rule.</summary>
    internal int TableSize => _table.Size;

    internal int TableCount => _table.Count;

    /// <summary>Decodes one complete header block (a HEADERS payload plus its CONTINUATIONs, padding and priority removed).</summary>
    public void Decode(ReadOnlySpan<byte> block, IHeaderSink sink)
    {
        var position = 0;
        var fieldSeen = false;
        var listSize = 0;
        while (position < block.Length)
        {
            var first = block[position];
            ReadOnlySpan<byte> name, value;
            if ((first & 0x80) != 0)
            {
                // Indexed field (6.1).
                var index = ReadInteger(block, ref position, 7);
                GetEntry(index, out name, out value);
            }
            else if ((first & 0xE0) == 0x20)
            {
                // Dynamic table size update (6.3): only before the first field (4.2).
                if (fieldSeen)
                    throw Error("Dynamic table size update after a header field.");
                var size = ReadInteger(block, ref position, 5);
                if (size > MaxTableSize)
                    throw Error($"Dynamic table size update to {size} is above the limit of {MaxTableSize}.");
                _table.SetMaxSize(size);
                continue;
            }
            else
            {
                // Literal with incremental indexing (6.2.1, 01 and a 6-bit prefix), without indexing (6.2.2, 0000) or
                // never indexed (6.2.3, 0001), both with a 4-bit prefix.
                var indexing = (first & 0xC0) == 0x40;
                var nameIndex = ReadInteger(block, ref position, indexing ? 6 : 4);
                var scratchUsed = 0;
                if (nameIndex == 0)
                {
                    name = ReadString(block, ref position, ref scratchUsed);
                }
                else
                {
                    GetEntry(nameIndex, out name, out _);
                    if (indexing && nameIndex > StaticTable.Count)
                    {
                        // The insert below may evict the entry this name lives in (4.4).
                        EnsureScratch(0, name.Length);
                        name.CopyTo(_scratch);
                        scratchUsed = name.Length;
                        name = _scratch.AsSpan(0, scratchUsed);
                    }
                }
                value = ReadString(block, ref position, ref scratchUsed);
                if (indexing)
                    _table.Add(name, value);
            }
            fieldSeen = true;
            listSize += name.Length + value.Length + DynamicTable.EntryOverhead;
            if (listSize > MaxHeaderListSize)
                throw Error($"Header list is larger than {MaxHeaderListSize} bytes.");
            sink.OnHeader(name, value);
        }
    }

    private void GetEntry(int index, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        if (index == 0)
            throw Error("Header index 0.");
        if (index <= StaticTable.Count)
        {
            name = StaticTable.Name(index);
            value = StaticTable.Value(index);
            return;
        }
        var dynamicIndex = index - StaticTable.Count;
        if (dynamicIndex > _table.Count)
            throw Error($"Header index {index} is beyond the tables ({StaticTable.Count} static, {_table.Count} dynamic).");
        _table.Get(dynamicIndex, out name, out value);
    }

    /// <summary>A string literal (5.2): a span of the block itself, or of the scratch buffer when Huffman-coded.</summary>
    private ReadOnlySpan<byte> ReadString(ReadOnlySpan<byte> block, scoped ref int position, scoped ref int scratchUsed)
    {
        if (position >= block.Length)
            throw Error("Header block ends before a string.");
        var huffman = (block[position] & 0x80) != 0;
        var length = ReadInteger(block, ref position, 7);
        if (length > block.Length - position)
            throw Error($"String of {length} bytes is longer than the rest of the header block.");
        var raw = block.Slice(position, length);
        position += length;
        if (!huffman)
            return raw;
        // A Huffman string decodes to at most 8/5 of its bytes (the shortest code is 5 bits); more than the list limit
        // is an error anyway.
        EnsureScratch(scratchUsed, (int)Math.Min(length * 8L / 5 + 1, MaxHeaderListSize + 1L));
        var written = Huffman.Decode(raw, _scratch.AsSpan(scratchUsed));
        if (written < 0)
        {
            // The scratch holds whatever this string can decode to, up to the list limit: this one is over it.
            throw Error($"Header list is larger than {MaxHeaderListSize} bytes.");
        }
        var text = _scratch.AsSpan(scratchUsed, written);
        scratchUsed += written;
        return text;
    }

    /// <summary>Room for <paramref name="length"/> bytes after the first <paramref name="used"/>, which are not copied.</summary>
    private void EnsureScratch(int used, int length)
    {
        if (_scratch.Length - used < length)
            _scratch = new byte[Math.Max(Math.Max(used + length, 2 * _scratch.Length), 64)];
    }

    /// <summary>An integer with an N-bit prefix (5.1), at most <see cref="int.MaxValue"/>.</summary>
    private static int ReadInteger(ReadOnlySpan<byte> block, ref int position, int prefixBits)
    {
        var max = (1 << prefixBits) - 1;
        var value = block[position++] & max;
        if (value < max)
            return value;
        long total = value;
        for (var shift = 0; ; shift += 7)
        {
            if (position >= block.Length)
                throw Error("Header block ends inside an integer.");
            var b = block[position++];
            // Past 31 bits is an overflow whatever the bytes are; checking the shift also stops endless 0x80 bytes.
            if (shift > 28)
                throw Error("Integer overflow in the header block.");
            total += (long)(b & 0x7F) << shift;
            if (total > int.MaxValue)
                throw Error("Integer overflow in the header block.");
            if ((b & 0x80) == 0)
                return (int)total;
        }
    }

    private static Http2ProtocolException Error(string message) => new(Http2ErrorCode.CompressionError, message);
}
