namespace Weft.Proxy.Http2;

/// <summary>
/// The HPACK Huffman code (RFC 7541 Appendix B). The code is canonical (codes of one length are consecutive, in symbol
/// order, and shorter codes come first), so the code lengths alone define it: the tables here are built from them.
/// </summary>
internal static class Huffman
{
    public const int Eos = 256;
    private const int MaxLength = 30;

    // Code length of each symbol 0-255 and EOS (256), in bits, from RFC 7541 Appendix B.
    private static ReadOnlySpan<byte> Lengths =>
    [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
        30,
    ];

    private static readonly uint[] Codes = new uint[Eos + 1];

    // Canonical decoding: the codes of length L are First[L] .. Limit[L]-1 and stand for Sorted[Offset[L] ..].
    private static readonly uint[] First = new uint[MaxLength + 1];
    private static readonly uint[] Limit = new uint[MaxLength + 1];
    private static readonly int[] Offset = new int[MaxLength + 1];
    private static readonly ushort[] Sorted = new ushort[Eos + 1];

    // By the next 8 input bits: the symbol and its length when a code of 8 bits or fewer starts there (length 0: none).
    // Most header text is in 5-8 bit codes, so this decodes a symbol per lookup.
    private static readonly (ushort Symbol, byte Length)[] Fast = new (ushort, byte)[256];

    static Huffman()
    {
        var lengths = Lengths;
        var count = new int[MaxLength + 1];
        foreach (var length in lengths)
            count[length]++;
        uint code = 0;
        var offset = 0;
        for (var length = 1; length <= MaxLength; length++)
        {
            First[length] = code;
            Limit[length] = code + (uint)count[length];
            Offset[length] = offset;
            offset += count[length];
            code = (code + (uint)count[length]) << 1;
        }
        var next = (uint[])First.Clone();
        var position = (int[])Offset.Clone();
        for (var length = 1; length <= MaxLength; length++)
        {
            for (var symbol = 0; symbol <= Eos; symbol++)
            {
                if (lengths[symbol] != length)
                    continue;
                Codes[symbol] = next[length]++;
                Sorted[position[length]++] = (ushort)symbol;
            }
        }
        for (var symbol = 0; symbol <= Eos; symbol++)
        {
            int length = lengths[symbol];
            if (length > 8)
                continue;
            var start = (int)(Codes[symbol] << (8 - length));
            for (var i = 0; i < 1 << (8 - length); i++)
                Fast[start + i] = ((ushort)symbol, (byte)length);
        }
    }

    /// <summary>
    /// Decodes <paramref name="source"/> into <paramref name="destination"/>; returns the bytes written, or -1 when
    /// <paramref name="destination"/> is too small. Throws a CompressionError for EOS in the string and for padding
    /// that is longer than 7 bits or not all ones (RFC 7541 5.2).
    /// </summary>
    public static int Decode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        // The unread bits, most significant first, at the top of acc; refilled to more than 56 while input lasts, so a
        // whole code (30 bits at most) is always there unless the input has run out.
        ulong acc = 0;
        var bits = 0;
        var read = 0;
        var written = 0;
        while (true)
        {
            for (; bits <= 56 && read < source.Length; bits += 8)
                acc |= (ulong)source[read++] << (56 - bits);
            if (bits == 0)
                return written;
            var (symbol, length) = Fast[(int)(acc >> 56)];
            if (length == 0)
            {
                var top = (uint)(acc >> (64 - MaxLength));
                length = 9;
                while (true)
                {
                    var code = top >> (MaxLength - length);
                    if (code < Limit[length])
                    {
                        symbol = Sorted[Offset[length] + (int)(code - First[length])];
                        break;
                    }
                    length++;
                }
            }
            if (length > bits)
            {
                // The input ended inside a code: what is left must be padding, the top bits of EOS (all ones).
                if (bits > 7 || acc >> (64 - bits) != (1UL << bits) - 1)
                    throw new Http2ProtocolException(Http2ErrorCode.CompressionError, "Huffman string has bad padding.");
                return written;
            }
            if (symbol == Eos)
                throw new Http2ProtocolException(Http2ErrorCode.CompressionError, "Huffman string contains EOS.");
            if (written == destination.Length)
                return -1;
            destination[written++] = (byte)symbol;
            acc <<= length;
            bits -= length;
        }
    }

    /// <summary>The encoded length of <paramref name="source"/> in bytes.</summary>
    public static int EncodedLength(ReadOnlySpan<byte> source)
    {
        long bits = 0;
        foreach (var b in source)
            bits += Lengths[b];
        return (int)((bits + 7) / 8);
    }

    /// <summary>Encodes <paramref name="source"/>, padded with ones; <paramref name="destination"/> must hold <see cref="EncodedLength"/>.</summary>
    public static int Encode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        ulong acc = 0;
        var bits = 0;
        var written = 0;
        foreach (var b in source)
        {
            acc = (acc << Lengths[b]) | Codes[b];
            bits += Lengths[b];
            for (; bits >= 8; bits -= 8)
                destination[written++] = (byte)(acc >> (bits - 8));
        }
        if (bits > 0)
            destination[written++] = (byte)((acc << (8 - bits)) | (0xFFu >> bits));
        return written;
    }
}
