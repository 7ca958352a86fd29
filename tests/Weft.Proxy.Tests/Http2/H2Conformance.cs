using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Proxy.Hosting;
using Weft.Proxy.Http2;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// Where the battery runs, shared by one conformance class's tests, each on its own connection. Its app:
/// <c>/hang</c> waits until the request is aborted, <c>/echo</c> returns the request body, <c>/bytes?n=N</c> returns N
/// bytes, anything else <c>ok {path}</c>.
/// </summary>
public abstract class H2ConformanceTarget : IAsyncLifetime
{
    /// <summary>The address an app's h2c connects to.</summary>
    internal abstract System.Net.IPEndPoint Address { get; }

    /// <summary>Whether connections are marked as our own client's (the inbound listener serves only those with ours).</summary>
    private protected virtual bool Marked => false;

    /// <summary>Connections the own server took here so far (a change of routing must fail the tests, not pass them on Kestrel).</summary>
    internal virtual long Served => 0;

    public abstract Task InitializeAsync();

    public abstract Task DisposeAsync();

    /// <summary>
    /// An arbitrary client's h2c connection (unmarked, as an app's gRPC or curl opens on the outbound listener, unless
    /// the target is the inbound listener), its SETTINGS exchanged unless <paramref name="ackSettings"/> is false.
    /// </summary>
    internal Task<RawH2Client> ConnectAsync(bool ackSettings = true, params (SettingId Id, uint Value)[] settings) =>
        RawH2Client.ConnectAsync(Address, Marked, ackSettings, settings);
}

/// <summary>The own HTTP/2 server alone on a loopback port (<see cref="OwnServer"/>), running the app itself.</summary>
public sealed class H2ConformanceServer : H2ConformanceTarget
{
    private Backend? _server;

    internal override System.Net.IPEndPoint Address => (_server ?? throw new InvalidOperationException("not started")).Address;

    public override async Task InitializeAsync() => _server = await OwnServer.StartAsync(H2Conformance.HandleAsync);

    public override async Task DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
    }
}

/// <summary>
/// A sidecar's outbound listener, as an app reaches the own HTTP/2 server in production (the listener peeks at the
/// preface, then hands the connection over), with the app as an HTTP/1.1 service behind it named by both authorities
/// the battery's requests carry.
/// </summary>
public class H2ConformanceSidecar : H2ConformanceTarget
{
    private Backend? _app;
    private ProxyHost? _proxy;

    internal ProxyHost Proxy => _proxy ?? throw new InvalidOperationException("not started");

    internal override System.Net.IPEndPoint Address => Proxy.OutboundAddress;

    internal override long Served => Proxy.Metrics.OwnH2!.AppServed;

    public override async Task InitializeAsync()
    {
        _app = await Backend.StartAsync(a => a.Run(H2Conformance.HandleAsync));
        _proxy = await StartProxyAsync(_app.Address);
    }

    private protected virtual async Task<ProxyHost> StartProxyAsync(System.Net.IPEndPoint app)
    {
        var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { FastH2Server = true });
        var endpoint = Mesh.Endpoint("c1", app);
        Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("conformance", [endpoint]), ("orders", [endpoint])])).Applied);
        return proxy;
    }

    public override async Task DisposeAsync()
    {
        if (_proxy is not null)
            await _proxy.DisposeAsync();
        if (_app is not null)
            await _app.DisposeAsync();
    }
}

/// <summary>What the conformance tests expect of the server, RFC 9113 5.4: the reactions to errors, and serving on after a stream error.</summary>
internal static class H2Conformance
{
    public static async Task HandleAsync(HttpContext c)
    {
        switch (c.Request.Path.Value)
        {
            case "/hang":
                await Task.Delay(Timeout.Infinite, c.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                return;
            case "/echo":
                using (var body = new MemoryStream())
                {
                    await c.Request.Body.CopyToAsync(body);
                    await c.Response.Body.WriteAsync(body.ToArray());
                }

                return;
            case "/bytes":
                await c.Response.Body.WriteAsync(Bytes(int.Parse(c.Request.Query["n"]!, CultureInfo.InvariantCulture)));
                return;
            default:
                await c.Response.WriteAsync("ok " + c.Request.Path);
                return;
        }
    }

    /// <summary>The bytes <c>/bytes?n=</c> returns.</summary>
    public static byte[] Bytes(int n) => [.. Enumerable.Range(0, n).Select(i => (byte)(i * 7))];

    /// <summary>A request head, the pseudo-headers first.</summary>
    public static (string, string)[] Request(string method, string path, params (string, string)[] more) =>
        [(":method", method), (":scheme", "http"), (":authority", "conformance"), (":path", path), .. more];

    /// <summary>A 4-byte big-endian payload (RST_STREAM's code, WINDOW_UPDATE's increment).</summary>
    public static byte[] U32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    /// <summary>A PRIORITY payload (or a HEADERS frame's priority fields): the stream dependency and a weight.</summary>
    public static byte[] Priority(int dependsOn, byte weight = 15) => [.. U32((uint)dependsOn), weight];

    /// <summary>A header block of the fields, literal, names as given.</summary>
    public static byte[] Block(params (string Name, string Value)[] fields)
    {
        var block = new byte[fields.Sum(f => HPackEncoder.MaxEncodedLength(f.Name.Length, f.Value.Length))];
        var n = 0;
        foreach (var (name, value) in fields)
            n += HPackEncoder.EncodeField(Encoding.Latin1.GetBytes(name), Encoding.Latin1.GetBytes(value), block.AsSpan(n));
        return block[..n];
    }

    private static Http2ErrorCode CodeOf(FrameType type, byte[] payload) =>
        (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(type == FrameType.GoAway ? payload.AsSpan(4) : payload);

    /// <summary>A connection error (5.4.1): GOAWAY with <paramref name="code"/>, then the server closes the connection.</summary>
    public static async Task ExpectConnectionErrorAsync(RawH2Client raw, Http2ErrorCode code)
    {
        var frame = await raw.ReadUntilAsync(h => h.Type is FrameType.GoAway or FrameType.RstStream);
        Assert.True(frame is { Header.Type: FrameType.GoAway }, $"expected GOAWAY {code}, got {Describe(frame)}");
        Assert.Equal(code, CodeOf(FrameType.GoAway, frame!.Value.Payload));
        Assert.Null(await raw.ReadUntilAsync(_ => false));
    }

    /// <summary>
    /// A stream error (5.4.2): RST_STREAM on <paramref name="streamId"/> with <paramref name="code"/>, and the connection
    /// serves on: a GET on <paramref name="nextStreamId"/> is answered.
    /// </summary>
    public static async Task ExpectStreamErrorAsync(RawH2Client raw, int streamId, Http2ErrorCode code, int nextStreamId)
    {
        var frame = await raw.ReadUntilAsync(h => h.Type == FrameType.GoAway || h.StreamId == streamId && h.Type is FrameType.RstStream or FrameType.Headers);
        Assert.True(frame is { Header.Type: FrameType.RstStream }, $"expected RST_STREAM {code} on stream {streamId}, got {Describe(frame)}");
        Assert.Equal(code, CodeOf(FrameType.RstStream, frame!.Value.Payload));
        await AssertServesAsync(raw, nextStreamId);
    }

    /// <summary>The connection still serves: a GET on <paramref name="streamId"/> gets its 200 and body.</summary>
    public static async Task AssertServesAsync(RawH2Client raw, int streamId)
    {
        await raw.GetAsync(streamId, "/after");
        var (status, body, _) = await raw.ReadResponseAsync(streamId);
        Assert.Equal(200, status);
        Assert.Equal("ok /after", Encoding.ASCII.GetString(body));
    }

    private static string Describe((FrameHeader Header, byte[] Payload)? frame) => frame switch
    {
        null => "the connection closed",
        { Header.Type: FrameType.GoAway or FrameType.RstStream } f =>
            $"{f.Header.Type} {CodeOf(f.Header.Type, f.Payload)} on stream {f.Header.StreamId}",
        { } f => $"{f.Header.Type} on stream {f.Header.StreamId}",
    };
}

/// <summary>
/// A sidecar's plaintext inbound listener in front of the app, with connections marked as our own client's: how the
/// other end of a two-sidecar hop reaches the own server (everyone else's go to Kestrel there).
/// </summary>
public sealed class H2ConformanceInbound : H2ConformanceSidecar
{
    internal override System.Net.IPEndPoint Address => Proxy.InboundAddress;

    private protected override bool Marked => true;

    internal override long Served => Proxy.Metrics.OwnH2!.Served;

    private protected override async Task<ProxyHost> StartProxyAsync(System.Net.IPEndPoint app)
    {
        var proxy = await ProxyHost.StartAsync(Mesh.Options("conformance", app) with { FastH2Server = true });
        Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [])).Applied);
        return proxy;
    }
}

/// <summary>A case that ends in a connection error: what the client sends, and the GOAWAY's code.</summary>
internal readonly record struct ConnectionErrorCase(Func<RawH2Client, Task> Send, Http2ErrorCode Code);

/// <summary>A case that ends in a stream error: what the client sends, the stream reset and its code; the next free stream id then serves.</summary>
internal readonly record struct StreamErrorCase(Func<RawH2Client, Task> Send, int StreamId, Http2ErrorCode Code, int NextStreamId = 0);

/// <summary>
/// An h2spec-style battery against the own HTTP/2 server, one class per RFC 9113 area: each test opens a connection
/// to the class's server, drives exact frames and asserts the reaction RFC 9113 (and RFC 7541) require.
/// </summary>
public abstract class H2ConformanceTests<TTarget>(TTarget server) : IClassFixture<TTarget>
    where TTarget : H2ConformanceTarget
{
    private protected TTarget Server => server;

    private protected virtual async Task RunAsync(ConnectionErrorCase c)
    {
        await using var raw = await server.ConnectAsync();
        await c.Send(raw);
        await H2Conformance.ExpectConnectionErrorAsync(raw, c.Code);
    }

    private protected virtual async Task RunAsync(StreamErrorCase c)
    {
        await using var raw = await server.ConnectAsync();
        await c.Send(raw);
        await H2Conformance.ExpectStreamErrorAsync(raw, c.StreamId, c.Code, c.NextStreamId == 0 ? c.StreamId + 2 : c.NextStreamId);
    }

    private protected static TheoryData<string> Names<T>(Dictionary<string, T> cases) => new(cases.Keys);
}

/// <summary>A conformance class's connection-error cases, by RFC section and what the client does.</summary>
public interface IH2ConnectionErrorCases
{
    internal static abstract Dictionary<string, ConnectionErrorCase> ConnectionErrors { get; }
}

/// <summary>A conformance class's connection-error and stream-error cases.</summary>
public interface IH2ErrorCases : IH2ConnectionErrorCases
{
    internal static abstract Dictionary<string, StreamErrorCase> StreamErrors { get; }
}

/// <summary>The battery's connection-error theory, one case each of <typeparamref name="TCases"/>' connection errors.</summary>
public abstract class H2ConnectionErrorTests<TTarget, TCases>(TTarget server) : H2ConformanceTests<TTarget>(server)
    where TTarget : H2ConformanceTarget
    where TCases : IH2ConnectionErrorCases
{
    public static TheoryData<string> ConnectionErrorCases => Names(TCases.ConnectionErrors);

    [Theory]
    [MemberData(nameof(ConnectionErrorCases))]
    public Task ConnectionError_GoAwayWithItsCode_ThenClose(string rfcCase) => RunAsync(TCases.ConnectionErrors[rfcCase]);
}

/// <summary>The battery's connection-error and stream-error theories, one case each of <typeparamref name="TCases"/>' errors.</summary>
public abstract class H2ErrorTests<TTarget, TCases>(TTarget server) : H2ConnectionErrorTests<TTarget, TCases>(server)
    where TTarget : H2ConformanceTarget
    where TCases : IH2ErrorCases
{
    public static TheoryData<string> StreamErrorCases => Names(TCases.StreamErrors);

    [Theory]
    [MemberData(nameof(StreamErrorCases))]
    public Task StreamError_RstStreamWithItsCode_AndTheConnectionServesOn(string rfcCase) => RunAsync(TCases.StreamErrors[rfcCase]);
}
