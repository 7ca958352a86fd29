using Weft.Proxy.Hosting;
using Weft.Proxy.Tests.Http2;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.FastPath;

/// <summary>
/// End to end, app → client sidecar → a far sidecar (scripted h2, <see cref="H2FarSide"/>) whose response's DATA
/// disagrees with its content-length (RFC 9113 8.1.1 makes that malformed): what the app sees on its own HTTP/1.1
/// keep-alive connection (<see cref="DeclaredLength"/>) — never more body than the head it got declared, a short body
/// never as a complete response, no hang — and its next request gets its own answer. Subclasses say which consumer
/// carries the hop.
/// </summary>
public abstract class SidecarResponseLengthTests
{
    private protected abstract Task<ProxyHost> StartProxyAsync();

    private protected abstract bool Took(ProxyHost proxy, int calls);

    public static TheoryData<string> CaseNames => [.. H2FarSide.LengthCases.Keys];

    private static string Request(string path) => $"GET {path} HTTP/1.1\r\nHost: orders\r\n\r\n";

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task BodyDisagreeingWithContentLength_NeverReachesTheAppAsMoreOrAsComplete_AndTheNextRequestGetsItsOwnAnswer(string name)
    {
        var (frames, declared, sent) = H2FarSide.LengthCases[name];
        await using var far = H2FarSide.Scripted(frames);
        await using var proxy = await StartProxyAsync();
        Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("orders-0", far.Address, sidecar: true)])])).Applied);
        using var app = await RawClient.ConnectAsync(proxy.OutboundAddress);

        var open = await AssertFirstAsync(app, Request("/first"), declared, sent);
        await DeclaredLength.AssertNextAsync(app, open, () => RawClient.ConnectAsync(proxy.OutboundAddress), Request("/next"), "fresh /next");

        Assert.Equal(2, far.Requests);
        Assert.True(Took(proxy, 2), "the consumer under test did not take both requests");
    }

    /// <summary>What the app must see of the bad response (<see cref="DeclaredLength.AssertFirstAsync"/>, unless the consumer promises more); whether its connection may be open.</summary>
    private protected virtual Task<bool> AssertFirstAsync(RawClient app, string request, int declared, string sent) =>
        DeclaredLength.AssertFirstAsync(app, request, declared, sent);

    private protected static Task<ProxyHost> ClientSidecarAsync(bool fastPath, bool fastH2 = true, bool? fastEngine = null) =>
        ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with
        {
            FastPath = fastPath,
            FastH2 = fastH2,
            FastEngine = fastEngine ?? ProxyOptions.FastEngineByEnvironment,
        });
}

/// <summary>The fast path through Weft's own HTTP/2 client (the default), on the epoll engine (unless <c>WEFT_FAST_ENGINE=0</c>).</summary>
public class SidecarResponseLengthOwnH2Tests : SidecarResponseLengthTests
{
    protected virtual bool FastEngine => ProxyOptions.FastEngineByEnvironment;

    private protected override Task<ProxyHost> StartProxyAsync() => ClientSidecarAsync(fastPath: true, fastEngine: FastEngine);

    private protected override bool Took(ProxyHost proxy, int calls) => proxy.FastPath!.SidecarH2Exchanges >= calls && proxy.FastPath.FallBacks == 0;

    /// <summary>
    /// The far side writes each whole response at once, so the own client has the failure with the head: nothing has
    /// reached the app, which gets a 502 <c>upstream-reset</c> instead of a cut connection.
    /// </summary>
    private protected override async Task<bool> AssertFirstAsync(RawClient app, string request, int declared, string sent)
    {
        await app.SendAsync(request);
        var response = await app.ReadResponseAsync();
        Assert.Equal((502, "upstream-reset"), (response.Status, response.Header("x-weft-error")));
        return true;
    }
}

/// <summary>The same on .NET sockets (<c>WEFT_FAST_ENGINE=0</c>).</summary>
public sealed class SidecarResponseLengthOwnH2SocketTests : SidecarResponseLengthOwnH2Tests
{
    protected override bool FastEngine => false;
}

/// <summary>The fast path through SocketsHttpHandler (<c>WEFT_FAST_H2=0</c>).</summary>
public sealed class SidecarResponseLengthSocketsHandlerTests : SidecarResponseLengthTests
{
    private protected override Task<ProxyHost> StartProxyAsync() => ClientSidecarAsync(fastPath: true, fastH2: false);

    private protected override bool Took(ProxyHost proxy, int calls) => proxy.FastPath!.SidecarExchanges >= calls && proxy.FastPath.FallBacks == 0;
}

/// <summary>The layered path (Kestrel, YARP, SocketsHttpHandler), with the fast path off.</summary>
public sealed class SidecarResponseLengthLayeredTests : SidecarResponseLengthTests
{
    private protected override Task<ProxyHost> StartProxyAsync() => ClientSidecarAsync(fastPath: false);

    private protected override bool Took(ProxyHost proxy, int calls) => proxy.FastPath is null;
}
