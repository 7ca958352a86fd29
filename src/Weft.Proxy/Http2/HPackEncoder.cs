namespace Weft.Proxy.Http2;

/// <summary>
/// HPACK encoder (RFC 7541) for request and response heads. It never inserts into the dynamic table, so it needs no
/// table-size agreement with the peer: static-table matches are indexed (whole field) or name-indexed, anything else is
/// a literal without indexing; no Huffman (the heads between sidecars are short). Names must be lower-case.
/// </summary>
internal static class HPackEncoder
{
    // The longest integer: a 31-bit value after a prefix is 1 prefix byte and 5 continuation bytes.
    private const int MaxIntegerLength = 6;

    /// <summary>Encodes one field; returns the bytes written, or -1 when <paramref name="destination"/> is too small.</summary>
    public static int EncodeField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, Span<byte> destination)
    {
        var nameIndex = StaticTable.FindName(name);
        int written;
        if (nameIndex != 0)
        {
            var index = StaticTable.FindValue(nameIndex, value);
            if (index != 0)
            {
                // Indexed field (6.1): all static indexes fit the 7-bit prefix, so this is one byte.
                if (destination.IsEmpty)
                    return -1;
                destination[0] = (byte)(0x80 | index);
                return 1;
            }
            // Literal without indexing, indexed name (6.2.2): 0000 and a 4-bit prefix.
            written = WriteInteger(nameIndex, 4, 0x00, destination);
        }
        else
        {
            // Literal without indexing, new name (6.2.2).
            if (destination.IsEmpty)
                return -1;
            destination[0] = 0x00;
            written = 1;
            var nameLength = WriteString(name, destination[1..]);
            written = nameLength < 0 ? -1 : written + nameLength;
        }
        if (written < 0)
            return -1;
        var valueLength = WriteString(value, destination[written..]);
        return valueLength < 0 ? -1 : written + valueLength;
    }

    /// <summary>An upper bound of <see cref="EncodeField"/>'s output for these lengths.</summary>
    public static int MaxEncodedLength(int nameLength, int valueLength) => 1 + MaxIntegerLength + nameLength + MaxIntegerLength + valueLength;

    /// <summary>A string literal without Huffman (5.2); returns the bytes written or -1.</summary>
    private static int WriteString(ReadOnlySpan<byte> text, Span<byte> destination)
    {
        var prefix = WriteInteger(text.Length, 7, 0x00, destination);
        if (prefix < 0 || destination.Length - prefix < text.Length)
            return -1;
        text.CopyTo(destination[prefix..]);
        return prefix + text.Length;
    }

    /// <summary>An integer with an N-bit prefix (5.1), the bits above the prefix set from <paramref name="flags"/>; returns the bytes written or -1.</summary>
    public static int WriteInteger(int value, int prefixBits, byte flags, Span<byte> destination)
    {
        if (destination.IsEmpty)
            return -1;
        var max = (1 << prefixBits) - 1;
        if (value < max)
        {
            destination[0] = (byte)(flags | value);
            return 1;
        }
        destination[0] = (byte)(flags | max);
        var rest = (uint)(value - max);
        var written = 1;
        for (; rest >= 0x80; rest >>= 7)
        {
            if (written == destination.Length)
                return -1;
            destination[written++] = (byte)(rest | 0x80);
        }
        if (written == destination.Length)
            return -1;
        destination[written++] = (byte)rest;
        return written;
    }
}
