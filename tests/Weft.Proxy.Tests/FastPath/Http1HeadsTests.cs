using System.Text;
using Weft.Proxy.FastPath;

namespace Weft.Proxy.Tests.FastPath;

public sealed class Http1HeadsTests
{
    private static HeadStatus Request(string head, out RequestHead parsed) => RequestHead.Parse(Encoding.ASCII.GetBytes(head), out parsed);

    [Fact]
    public void RequestHead_PlainGetWithBody_GivesHostLengthAndTraceLines()
    {
        const string text = "POST /a?b=1 HTTP/1.1\r\nHost: pay:8080\r\nContent-Length: 12\r\ntraceparent: 00-abc-def-01\r\n\r\nbody";

        Assert.Equal(HeadStatus.Parsed, Request(text, out var head));
        Assert.Equal(text.IndexOf("body", StringComparison.Ordinal), head.Length);
        Assert.Equal("pay:8080", text.Substring(head.HostStart, head.HostLength));
        Assert.Equal("/a?b=1", text.Substring(head.TargetStart, head.TargetLength));
        Assert.Equal(12, head.ContentLength);
        Assert.Equal("00-abc-def-01", text.Substring(head.TraceParentValue, head.TraceParentValueLength));
        Assert.Equal("traceparent: 00-abc-def-01\r\n", text.Substring(head.TraceParentLine, head.TraceParentLineLength));
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: pay\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: pay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nHost: pay\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: pay\r\nConnection: close\r\n\r\n")]
    [InlineData("GET / HTTP/1.0\r\nHost: pay\r\n\r\n")]
    [InlineData("GET http://pay/ HTTP/1.1\r\nHost: pay\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: pay\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: pay\r\nContent-Length: -1\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: pay\r\nX-Folded: a\r\n b\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost : pay\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\nHost: pay\n\n")]
    [InlineData("get / HTTP/1.1\r\nHost: pay\r\n\r\n")]
    public void RequestHead_AnythingUnusual_IsLeftToKestrel(string head) =>
        Assert.Equal(HeadStatus.Declined, Request(head, out _));

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: pay\r\nConnection: keep-alive, X-Hop\r\nConnection: close\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: pay\r\nConnection: host\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nHost: pay\r\nConnection: X-Hop,Content-Length\r\nContent-Length: 1\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: pay\r\nConnection: traceparent\r\n\r\n")]
    public void RequestHead_ConnectionNamingCloseOrAHeaderTheFastPathReads_IsLeftToKestrel(string head) =>
        Assert.Equal(HeadStatus.Declined, Request(head, out _));

    [Fact]
    public void RequestHead_ConnectionNamingHeaders_IsTakenAndMarked()
    {
        Assert.Equal(HeadStatus.Parsed, Request("GET / HTTP/1.1\r\nHost: pay\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\r\n", out var named));
        Assert.True(named.ConnectionOptions);

        Assert.Equal(HeadStatus.Parsed, Request("GET / HTTP/1.1\r\nHost: pay\r\nConnection: Keep-Alive\r\n\r\n", out var plain));
        Assert.False(plain.ConnectionOptions);
    }

    [Fact]
    public void RemoveHopByHop_DropsTheConnectionLinesAndEachLineTheyName_AndKeepsTheRest()
    {
        const string named = "GET / HTTP/1.1\r\nConnection: X-Hop\r\nHost: pay\r\nx-hop: 1\r\nKeep-Alive: 5\r\nX-Hop-Not: 2\r\nCONNECTION: keep-alive , x-b\r\nX-B: 3\r\n\r\n";
        var original = Encoding.ASCII.GetBytes(named);
        var head = original.ToArray();

        var n = RequestHead.RemoveHopByHop(original, head);

        Assert.Equal("GET / HTTP/1.1\r\nHost: pay\r\nX-Hop-Not: 2\r\n\r\n", Encoding.ASCII.GetString(head, 0, n));
    }

    [Fact]
    public void RequestHead_NotYetComplete_WaitsForMore() =>
        Assert.Equal(HeadStatus.Incomplete, Request("GET / HTTP/1.1\r\nHost: pa", out _));

    [Fact]
    public void ResponseHead_ConnectionNamingHeaders_MarksThemHopByHop()
    {
        var text = "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nX-End: 2\r\n\r\n"u8;

        Assert.Equal(HeadStatus.Parsed, ResponseHead.Parse(text, out var head));
        Assert.True(head.ConnectionOptions);
        Assert.False(head.Close);
        Assert.True(ResponseHead.NamedInConnection(text, "x-hop"u8));
        Assert.False(ResponseHead.NamedInConnection(text, "X-End"u8));

        ResponseHead.Parse("HTTP/1.1 200 OK\r\nConnection: Keep-Alive\r\n\r\n"u8, out var plain);
        Assert.False(plain.ConnectionOptions);
    }

    [Fact]
    public void ResponseHead_FramingFollowsStatusMethodAndHeaders()
    {
        Assert.Equal(HeadStatus.Parsed, ResponseHead.Parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n"u8, out var cl));
        Assert.Equal(BodyFraming.ContentLength, cl.Framing(headRequest: false));
        Assert.Equal(BodyFraming.None, cl.Framing(headRequest: true));
        Assert.False(cl.Close);

        ResponseHead.Parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 9\r\n\r\n"u8, out var chunked);
        Assert.Equal(BodyFraming.Chunked, chunked.Framing(false));

        ResponseHead.Parse("HTTP/1.1 204 No Content\r\n\r\n"u8, out var noContent);
        Assert.Equal(BodyFraming.None, noContent.Framing(false));

        ResponseHead.Parse("HTTP/1.0 200 OK\r\n\r\n"u8, out var old);
        Assert.Equal(BodyFraming.Close, old.Framing(false));
        Assert.True(old.Close);

        ResponseHead.Parse("HTTP/1.1 503 Service Unavailable\r\nConnection: Close\r\nx-weft-error: overflow\r\nContent-Length: 0\r\n\r\n"u8, out var error);
        Assert.Equal(503, error.Status);
        Assert.True(error.Close);
        Assert.Equal("overflow".Length, error.WeftErrorLength);
    }

    [Fact]
    public void ResponseHead_ConflictingContentLengths_AreAnUpstreamError() =>
        Assert.Equal(HeadStatus.Declined, ResponseHead.Parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"u8, out _));

    [Fact]
    public void ChunkedDecoderScan_FindsTheEndWhereverTheBytesAreSplit()
    {
        var body = Encoding.ASCII.GetBytes("5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\n");
        var after = Encoding.ASCII.GetBytes("HTTP/1.1");
        var all = body.Concat(after).ToArray();
        for (var split = 0; split <= body.Length; split++)
        {
            var scanner = new ChunkedDecoder();
            var first = scanner.Scan(all.AsSpan(0, split));
            Assert.Equal(split, first);
            var second = scanner.Scan(all.AsSpan(split));
            Assert.True(scanner.Done);
            Assert.Equal(body.Length, first + second);
        }
    }

    [Fact]
    public void ChunkedDecoderScan_BrokenFraming_Throws() =>
        Assert.Throws<InvalidDataException>(() => new ChunkedDecoder().Scan("5\r\nhelloXX"u8));
}
