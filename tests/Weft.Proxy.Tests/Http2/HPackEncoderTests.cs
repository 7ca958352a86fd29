using System.Text;
using Weft.Proxy.Http2;

namespace Weft.Proxy.Tests.Http2;

public sealed class HPackEncoderTests
{
    [Theory]
    [InlineData(":method", "GET", 0x82)]
    [InlineData(":method", "POST", 0x83)]
    [InlineData(":scheme", "https", 0x87)]
    [InlineData(":path", "/", 0x84)]
    [InlineData(":status", "200", 0x88)]
    [InlineData("accept-encoding", "gzip, deflate", 0x90)]
    public void EncodeField_WholeStaticEntry_IsOneIndexedByte(string name, string value, byte expected)
    {
        var destination = new byte[16];
        Assert.Equal(1, HPackEncoder.EncodeField(Encoding.ASCII.GetBytes(name), Encoding.ASCII.GetBytes(value), destination));
        Assert.Equal(expected, destination[0]);
    }

    [Fact]
    public void EncodeField_StaticName_IsALiteralWithTheIndexedName()
    {
        // RFC 7541 C.2.2's bytes: literal without indexing, name :path (4), value "/sample/path".
        var destination = new byte[64];
        var length = HPackEncoder.EncodeField(":path"u8, "/sample/path"u8, destination);
        Assert.Equal(HeaderList.Hex("040c 2f73 616d 706c 652f 7061 7468"), destination[..length]);
    }

    [Fact]
    public void EncodeField_StaticNameAtIndex15OrMore_ContinuesThePrefix()
    {
        // user-agent is 58: 0x0f then 58 - 15 = 43.
        var destination = new byte[64];
        var length = HPackEncoder.EncodeField("user-agent"u8, "weft"u8, destination);
        Assert.Equal(HeaderList.Hex("0f2b 0477 6566 74"), destination[..length]);
    }

    [Fact]
    public void EncodeField_NewName_IsALiteralWithTheName()
    {
        var destination = new byte[64];
        var length = HPackEncoder.EncodeField("x-weft"u8, "1"u8, destination);
        Assert.Equal(HeaderList.Hex("0006 782d 7765 6674 0131"), destination[..length]);
    }

    [Fact]
    public void EncodeField_ALongValue_UsesAMultiByteLength()
    {
        var value = new byte[1000];
        value.AsSpan().Fill((byte)'v');
        var destination = new byte[HPackEncoder.MaxEncodedLength(6, value.Length)];
        var length = HPackEncoder.EncodeField("x-weft"u8, value, destination);
        var sink = new HeaderList();
        new HPackDecoder().Decode(destination.AsSpan(0, length), sink);
        Assert.Equal([("x-weft", new string('v', 1000))], sink.Fields);
    }

    [Fact]
    public void EncodeField_DestinationTooSmall_ReturnsMinusOneForEveryShorterLength()
    {
        var full = new byte[64];
        var needed = HPackEncoder.EncodeField("x-request-id"u8, "abcdef"u8, full);
        for (var size = 0; size < needed; size++)
            Assert.Equal(-1, HPackEncoder.EncodeField("x-request-id"u8, "abcdef"u8, new byte[size]));
        Assert.Equal(1, HPackEncoder.EncodeField(":method"u8, "GET"u8, new byte[1]));
        Assert.Equal(-1, HPackEncoder.EncodeField(":method"u8, "GET"u8, []));
    }

    [Fact]
    public void EncodeField_RequestAndResponseHeads_DecodeToTheSameFields()
    {
        (string, string)[] fields =
        [
            (":method", "GET"), (":method", "PUT"), (":scheme", "https"), (":scheme", "http"), (":path", "/"),
            (":path", "/orders/42?x=1"), (":authority", "orders.weft.internal:8443"), (":status", "200"), (":status", "503"),
            ("content-type", "application/json"), ("content-length", "1234"), ("accept", "*/*"), ("accept-encoding", "gzip, deflate"),
            ("accept-encoding", "br"), ("user-agent", "weft/0.1"), ("te", "trailers"), ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            ("x-empty", ""), ("date", "Fri, 27 Nov 2026 03:00:00 GMT"),
        ];
        var block = new byte[4096];
        var length = 0;
        foreach (var (name, value) in fields)
        {
            var written = HPackEncoder.EncodeField(Encoding.ASCII.GetBytes(name), Encoding.ASCII.GetBytes(value), block.AsSpan(length));
            Assert.InRange(written, 1, HPackEncoder.MaxEncodedLength(name.Length, value.Length));
            length += written;
        }
        var decoder = new HPackDecoder();
        var sink = new HeaderList();
        decoder.Decode(block.AsSpan(0, length), sink);
        Assert.Equal(fields, sink.Fields);
        // The encoder never inserts, so the decoder's table stays empty.
        Assert.Equal(0, decoder.TableCount);
    }
}
