using Weft.Proxy.Http2;

namespace Weft.Proxy.Tests.Http2;

public sealed class HuffmanTests
{
    [Fact]
    public void Decode_EveryByteValue_RoundTripsThroughTheEncoder()
    {
        var text = new byte[256 * 3];
        for (var i = 0; i < text.Length; i++)
            text[i] = (byte)(i * 7);
        var coded = new byte[Huffman.EncodedLength(text)];
        Assert.Equal(coded.Length, Huffman.Encode(text, coded));
        var decoded = new byte[text.Length];
        Assert.Equal(text.Length, Huffman.Decode(coded, decoded));
        Assert.Equal(text, decoded);
    }

    [Fact]
    public void Decode_RfcExample_GivesTheText()
    {
        // RFC 7541 C.4.1: "www.example.com".
        var decoded = new byte[32];
        var length = Huffman.Decode(HeaderList.Hex("f1e3 c2e5 f23a 6ba0 ab90 f4ff"), decoded);
        Assert.Equal("www.example.com"u8.ToArray(), decoded[..length]);
    }

    [Fact]
    public void Encode_RfcExample_GivesTheRfcBytes()
    {
        // RFC 7541 C.4.2: "no-cache".
        var coded = new byte[Huffman.EncodedLength("no-cache"u8)];
        Huffman.Encode("no-cache"u8, coded);
        Assert.Equal(HeaderList.Hex("a8eb 1064 9cbf"), coded);
    }

    [Fact]
    public void Decode_DestinationTooSmall_ReturnsMinusOne()
    {
        Assert.Equal(-1, Huffman.Decode(HeaderList.Hex("f1e3 c2e5 f23a 6ba0 ab90 f4ff"), new byte[14]));
    }

    [Fact]
    public void Decode_SevenBitsOfPadding_IsAccepted()
    {
        // '0' (00000) then padding of 3 ones; "00" (10 bits) then 6 ones.
        Assert.Equal(1, Huffman.Decode([0x07], new byte[4]));
        Assert.Equal(2, Huffman.Decode([0x00, 0x3f], new byte[4]));
    }
}
