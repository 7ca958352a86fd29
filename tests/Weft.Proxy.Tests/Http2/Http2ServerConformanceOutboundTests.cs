using Weft.Proxy.Http2;
using static Weft.Proxy.Tests.Http2.H2Conformance;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// The battery's error cases again, through a sidecar's outbound listener as an app's h2c reaches the own HTTP/2
/// server (the listener peeks at the preface first, and requests go through the pipeline to an HTTP/1.1 service).
/// </summary>
public sealed class Http2ServerConformanceOutboundTests(H2ConformanceSidecar sidecar) : H2ConformanceTests<H2ConformanceSidecar>(sidecar)
{
    /// <summary>
    /// Cases whose outcome depends on the app not reading the body, which holds on the own server alone but not here:
    /// the sidecar's pipeline reads the body on to the service's socket, so the stream's window is refilled.
    /// </summary>
    private static readonly HashSet<string> AppDependent = ["6.9.1 DATA beyond the stream's receive window: FLOW_CONTROL_ERROR"];

    private static readonly Dictionary<string, ConnectionErrorCase> ConnectionErrors = new(
        Http2ServerConformanceFramingTests.ConnectionErrors
            .Concat(Http2ServerConformanceStreamsTests.ConnectionErrors)
            .Concat(Http2ServerConformanceSettingsTests.ConnectionErrors));

    private static readonly Dictionary<string, StreamErrorCase> StreamErrors = new(
        Http2ServerConformanceStreamsTests.StreamErrors
            .Concat(Http2ServerConformanceSettingsTests.StreamErrors)
            .Concat(Http2ServerConformanceSemanticsTests.Malformed)
            .Where(c => !AppDependent.Contains(c.Key)));

    public static TheoryData<string> ConnectionErrorCases => Names(ConnectionErrors);

    public static TheoryData<string> StreamErrorCases => Names(StreamErrors);

    [Theory]
    [MemberData(nameof(ConnectionErrorCases))]
    public async Task ConnectionError_GoAwayWithItsCode_ThenClose(string rfcCase)
    {
        await RunAsync(ConnectionErrors[rfcCase]);
        Assert.True(Server.Proxy.Metrics.OwnH2!.AppServed >= 1);
    }

    [Theory]
    [MemberData(nameof(StreamErrorCases))]
    public async Task StreamError_RstStreamWithItsCode_AndTheConnectionServesOn(string rfcCase)
    {
        await RunAsync(StreamErrors[rfcCase]);
        Assert.True(Server.Proxy.Metrics.OwnH2!.AppServed >= 1);
    }

    [Fact]
    public async Task Preface_34_FirstFrameNotSettings_GetsGoAwayProtocolError_ThenClose()
    {
        await using var raw = await RawH2Client.OpenAsync(Server.Address);
        await raw.SendAsync(Frames.ClientPreface.ToArray());
        await raw.SendFrameAsync(FrameType.Ping, 0, 0, new byte[8]);

        await ExpectConnectionErrorAsync(raw, Http2ErrorCode.ProtocolError);
    }
}
