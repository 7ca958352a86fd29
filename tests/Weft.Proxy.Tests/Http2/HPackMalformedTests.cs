using Weft.Proxy.Http2;

namespace Weft.Proxy.Tests.Http2;

/// <summary>Each kind of malformed header block is a CompressionError, never another exception or a wrong field.</summary>
public sealed class HPackMalformedTests
{
    [Theory]
    // Indexed field whose index continues into a byte that is not there.
    [InlineData("TruncatedInteger", "ff")]
    [InlineData("TruncatedIntegerAfterContinuation", "ff 80")]
    // Index 127 + 0x7f + (0x7f << 7) + ... past 2^31.
    [InlineData("IntegerOverflow", "ff ff ff ff ff 0f")]
    [InlineData("EndlessContinuationBytes", "ff 80 80 80 80 80 80 80 80 80 80 00")]
    // A literal whose value claims 10 bytes with 3 left.
    [InlineData("StringLongerThanTheBlock", "04 0a 2f 61 62")]
    [InlineData("NameLengthMissing", "40")]
    [InlineData("ValueMissing", "40 01 61")]
    [InlineData("IndexZero", "80")]
    [InlineData("LiteralNameIndexBeyondTheTables", "0f 2f 01 61")]
    [InlineData("IndexBeyondTheStaticTable", "be")]
    [InlineData("SizeUpdateAboveTheLimit", "3f e2 1f")]
    [InlineData("SizeUpdateAfterAField", "82 20")]
    // 'a' is 00011 (5 bits); the remaining 3 bits 000 are not all ones.
    [InlineData("HuffmanPaddingNotOnes", "04 81 18")]
    // Two whole bytes of ones after 'a': padding of 11 bits.
    [InlineData("HuffmanPaddingTooLong", "04 83 1f ff ff")]
    // EOS (30 ones) then padding.
    [InlineData("HuffmanEos", "04 84 ff ff ff ff")]
    public void Decode_MalformedBlock_IsACompressionError(string what, string hex)
    {
        var decoder = new HPackDecoder();
        var error = Assert.Throws<Http2ProtocolException>(() => decoder.Decode(HeaderList.Hex(hex), new HeaderList()));
        Assert.True(error.Code == Http2ErrorCode.CompressionError, what);
    }

    [Fact]
    public void Decode_HeaderListOverTheLimit_IsACompressionError()
    {
        // Two fields of 10 + 20 + 32 = 62 each against a limit of 100.
        var decoder = new HPackDecoder(maxHeaderListSize: 100);
        byte[] field = [0x00, 10, .. "x-long-key"u8, 20, .. "01234567890123456789"u8];
        decoder.Decode(field, new HeaderList());
        var sink = new HeaderList();
        var error = Assert.Throws<Http2ProtocolException>(() => decoder.Decode([.. field, .. field], sink));
        Assert.Equal(Http2ErrorCode.CompressionError, error.Code);
        Assert.Single(sink.Fields);
    }

    [Fact]
    public void Decode_HuffmanValueDecodingPastTheLimit_IsACompressionError()
    {
        // 300 zeros (5 bits each, 188 bytes coded) decode to more than the 150-byte limit allows.
        var text = new byte[300];
        text.AsSpan().Fill((byte)'0');
        var coded = new byte[Huffman.EncodedLength(text)];
        Huffman.Encode(text, coded);
        var decoder = new HPackDecoder(maxHeaderListSize: 150);
        byte[] block = [0x04, 0xff, (byte)(coded.Length - 0x7f), .. coded];
        var error = Assert.Throws<Http2ProtocolException>(() => decoder.Decode(block, new HeaderList()));
        Assert.Equal(Http2ErrorCode.CompressionError, error.Code);
    }

    [Fact]
    public void Decode_SizeUpdateUpToTheLimit_IsAccepted()
    {
        // 0x3f e1 1f = 31 + 0x61 + (0x1f << 7) = 4096.
        var decoder = new HPackDecoder();
        decoder.Decode(HeaderList.Hex("20 3f e1 1f 82"), new HeaderList());
        Assert.Equal(4096, decoder.TableMaxSize);
    }
}
