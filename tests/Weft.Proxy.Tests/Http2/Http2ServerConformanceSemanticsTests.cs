using System.Text;
using Weft.Proxy.Http2;
using static Weft.Proxy.Tests.Http2.H2Conformance;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// RFC 9113 8.1 to 8.3, HTTP semantics: a malformed request (8.1.1) is a stream error of type PROTOCOL_ERROR, the app
/// never sees it, and the connection serves on.
/// </summary>
public sealed class Http2ServerConformanceSemanticsTests(H2ConformanceServer server) : H2ConformanceTests<H2ConformanceServer>(server)
{
    private static readonly (string, string) Method = (":method", "GET"), Scheme = (":scheme", "http"), Path = (":path", "/"),
        Authority = (":authority", "conformance");

    /// <summary>A request head of exactly <paramref name="fields"/>, on stream 1 with END_STREAM.</summary>
    private static StreamErrorCase Head(params (string, string)[] fields) =>
        new(raw => raw.SendHeadersAsync(1, endStream: true, fields), 1, Http2ErrorCode.ProtocolError);

    /// <summary>A well-formed GET head with <paramref name="more"/> after its pseudo-headers.</summary>
    private static StreamErrorCase GetWith(params (string, string)[] more) => Head(Request("GET", "/", more));

    /// <summary>A POST with <paramref name="head"/> fields, then DATA <paramref name="body"/> with END_STREAM.</summary>
    private static StreamErrorCase Post((string, string)[] head, string body) => new(async raw =>
    {
        await raw.SendHeadersAsync(1, endStream: false, Request("POST", "/echo", head));
        await raw.SendDataAsync(1, Encoding.ASCII.GetBytes(body), endStream: true);
    }, 1, Http2ErrorCode.ProtocolError);

    internal static readonly Dictionary<string, StreamErrorCase> Malformed = new()
    {
        ["8.2.1 an upper-case field name"] = GetWith(("X-Upper", "1")),
        ["8.2.1 a field name with a space"] = GetWith(("x bad", "1")),
        ["8.2.1 a field value with CR"] = GetWith(("x-bad", "a\rb")),
        ["8.2.1 a field value with LF"] = GetWith(("x-bad", "a\nb")),
        ["8.2.1 a field value with NUL"] = GetWith(("x-bad", "a\0b")),
        ["8.2.1 a pseudo-header value with LF"] = Head(Method, Scheme, Authority, (":path", "/a\nb")),
        ["8.2.2 connection"] = GetWith(("connection", "keep-alive")),
        ["8.2.2 keep-alive"] = GetWith(("keep-alive", "timeout=5")),
        ["8.2.2 proxy-connection"] = GetWith(("proxy-connection", "keep-alive")),
        ["8.2.2 transfer-encoding"] = GetWith(("transfer-encoding", "chunked")),
        ["8.2.2 upgrade"] = GetWith(("upgrade", "h2c")),
        ["8.2.2 te other than trailers"] = GetWith(("te", "gzip")),
        ["8.3 a pseudo-header after a regular field"] = Head(Method, Scheme, ("accept", "*/*"), Path),
        ["8.3 an unknown pseudo-header"] = GetWith((":weft", "1")),
        ["8.3 a response pseudo-header (:status) in a request"] = Head(Method, Scheme, Authority, Path, (":status", "200")),
        ["8.3.1 no :method"] = Head(Scheme, Authority, Path),
        ["8.3.1 no :scheme"] = Head(Method, Authority, Path),
        ["8.3.1 no :path"] = Head(Method, Scheme, Authority),
        ["8.3.1 an empty :path"] = Head(Method, Scheme, Authority, (":path", "")),
        ["8.3.1 a :path not starting with /"] = Head(Method, Scheme, Authority, (":path", "index.html")),
        ["8.3.1 :method twice"] = Head(Method, Method, Scheme, Authority, Path),
        ["8.3.1 :path twice"] = Head(Method, Scheme, Authority, Path, Path),
        ["8.3.1 :scheme twice"] = Head(Method, Scheme, Scheme, Authority, Path),
        ["8.1.1 content-length above the DATA received"] = Post([("content-length", "10")], "short"),
        ["8.1.1 content-length below the DATA received"] = Post([("content-length", "3")], "longer"),
        ["8.1.1 content-length on a HEADERS with END_STREAM"] = Head(Request("POST", "/echo", ("content-length", "5"))),
        ["8.1 trailers without END_STREAM"] = new(async raw =>
        {
            await raw.SendHeadersAsync(1, endStream: false, Request("POST", "/echo"));
            await raw.SendDataAsync(1, "body"u8, endStream: false);
            await raw.SendHeadersAsync(1, endStream: false, ("x-trailer", "1"));
        }, 1, Http2ErrorCode.ProtocolError),
        ["8.1 trailers with a pseudo-header"] = new(async raw =>
        {
            await raw.SendHeadersAsync(1, endStream: false, Request("POST", "/echo"));
            await raw.SendHeadersAsync(1, endStream: true, (":path", "/"));
        }, 1, Http2ErrorCode.ProtocolError),
        ["8.1 trailers with a value with CR"] = new(async raw =>
        {
            await raw.SendHeadersAsync(1, endStream: false, Request("POST", "/echo"));
            await raw.SendHeadersAsync(1, endStream: true, ("x-trailer", "a\rb"));
        }, 1, Http2ErrorCode.ProtocolError),
    };

    public static TheoryData<string> MalformedCases => Names(Malformed);

    [Theory]
    [MemberData(nameof(MalformedCases))]
    public Task MalformedRequest_IsAStreamErrorProtocolError_AndTheConnectionServesOn(string rfcCase) => RunAsync(Malformed[rfcCase]);

    [Fact]
    public async Task WellFormed_TeTrailers_AMatchingContentLength_AndTrailersAfterTheBody_AreServed()
    {
        await using var raw = await Server.ConnectAsync();
        await raw.SendHeadersAsync(1, endStream: false, Request("POST", "/echo", ("te", "trailers"), ("content-length", "9")));
        await raw.SendDataAsync(1, "some "u8, endStream: false);
        await raw.SendDataAsync(1, "body"u8, endStream: false);
        await raw.SendHeadersAsync(1, endStream: true, ("x-checksum", "1"));

        var (status, body, _) = await raw.ReadResponseAsync(1);
        Assert.Equal(200, status);
        Assert.Equal("some body", Encoding.ASCII.GetString(body));
    }
}
