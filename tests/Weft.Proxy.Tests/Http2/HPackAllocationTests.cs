using Weft.Proxy.Http2;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// The codec runs per request on the hot path: once warm, encoding a head and decoding one (Huffman strings and dynamic
/// table hits included) allocate nothing. Counted on this thread only, so other tests running beside it do not count.
/// </summary>
public sealed class HPackAllocationTests
{
    [Fact]
    public void EncodeAndDecode_Warm_AllocateNothing()
    {
        var head = new byte[512];
        var decoder = new HPackDecoder();
        var sink = new NullSink();
        // A Kestrel-like response: Huffman values, inserts, then indexed hits on what was inserted.
        var response = HeaderList.Hex(
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3");
        var responseAgain = HeaderList.Hex("bebf c0c1");
        var responseDecoder = new HPackDecoder(maxTableSize: 256);

        RoundTrip();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
            RoundTrip();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);

        void RoundTrip()
        {
            var length = HPackEncoder.EncodeField(":method"u8, "GET"u8, head);
            length += HPackEncoder.EncodeField(":scheme"u8, "https"u8, head.AsSpan(length));
            length += HPackEncoder.EncodeField(":authority"u8, "orders.weft.internal"u8, head.AsSpan(length));
            length += HPackEncoder.EncodeField(":path"u8, "/orders/42"u8, head.AsSpan(length));
            length += HPackEncoder.EncodeField("accept"u8, "application/json"u8, head.AsSpan(length));
            length += HPackEncoder.EncodeField("user-agent"u8, "weft/0.1"u8, head.AsSpan(length));
            length += HPackEncoder.EncodeField("x-request-id"u8, "5f2c9a7e"u8, head.AsSpan(length));
            decoder.Decode(head.AsSpan(0, length), sink);
            responseDecoder.Decode(response, sink);
            responseDecoder.Decode(responseAgain, sink);
        }
    }

    private sealed class NullSink : IHeaderSink
    {
        public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
        {
        }
    }
}
