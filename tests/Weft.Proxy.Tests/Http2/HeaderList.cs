using System.Text;
using Weft.Proxy.Http2;

namespace Weft.Proxy.Tests.Http2;

/// <summary>A sink that keeps the decoded fields as strings, for asserting on.</summary>
internal sealed class HeaderList : IHeaderSink
{
    public List<(string Name, string Value)> Fields { get; } = [];

    public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) =>
        Fields.Add((Encoding.Latin1.GetString(name), Encoding.Latin1.GetString(value)));

    public string? this[string name] => Fields.FirstOrDefault(f => f.Name == name).Value;

    public static List<(string, string)> Decode(HPackDecoder decoder, string hex)
    {
        var sink = new HeaderList();
        decoder.Decode(Hex(hex), sink);
        return sink.Fields;
    }

    /// <summary>The HPACK block of <c>GET http://orders/</c>, literal fields only (the client tests' request head).</summary>
    public static byte[] GetOrders()
    {
        var block = new byte[64];
        var n = HPackEncoder.EncodeField(":method"u8, "GET"u8, block);
        n += HPackEncoder.EncodeField(":scheme"u8, "http"u8, block.AsSpan(n));
        n += HPackEncoder.EncodeField(":authority"u8, "orders"u8, block.AsSpan(n));
        n += HPackEncoder.EncodeField(":path"u8, "/"u8, block.AsSpan(n));
        return block[..n];
    }

    /// <summary>Bytes from hex as RFC 7541 prints them (spaces and line breaks ignored).</summary>
    public static byte[] Hex(string hex) => Convert.FromHexString(string.Concat(hex.Where(char.IsAsciiHexDigit)));
}
