using Weft.Proxy.Http2;
using static Weft.Proxy.Tests.Http2.H2Conformance;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// The battery's error cases again, through a sidecar's listener in front of the own HTTP/2 server (the listener peeks
/// at the preface or the marker first, and requests go through the pipeline to an HTTP/1.1 app), each case asserted to
/// have been served by ours.
/// </summary>
public abstract class Http2ServerConformanceSidecarTests<TSidecar>(TSidecar sidecar)
    : H2ErrorTests<TSidecar, Http2ServerConformanceSidecarTests<TSidecar>>(sidecar), IH2ErrorCases
    where TSidecar : H2ConformanceSidecar
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

    static Dictionary<string, ConnectionErrorCase> IH2ConnectionErrorCases.ConnectionErrors => ConnectionErrors;

    static Dictionary<string, StreamErrorCase> IH2ErrorCases.StreamErrors => StreamErrors;

    private protected override Task RunAsync(ConnectionErrorCase c) => ServedByOursAsync(() => base.RunAsync(c));

    private protected override Task RunAsync(StreamErrorCase c) => ServedByOursAsync(() => base.RunAsync(c));

    /// <summary>Runs a case, asserting that the own server took its connection.</summary>
    private async Task ServedByOursAsync(Func<Task> run)
    {
        var served = Server.Served;
        await run();
        Assert.Equal(served + 1, Server.Served);
    }
}

/// <summary>On the outbound listener: an app's h2c, unmarked.</summary>
public sealed class Http2ServerConformanceOutboundTests(H2ConformanceSidecar sidecar) : Http2ServerConformanceSidecarTests<H2ConformanceSidecar>(sidecar)
{
    [Fact]
    public async Task Preface_34_FirstFrameNotSettings_GetsGoAwayProtocolError_ThenClose()
    {
        var served = Server.Served;
        await using var raw = await RawH2Client.OpenAsync(Server.Address);
        await raw.SendAsync(Frames.ClientPreface.ToArray());
        await raw.SendFrameAsync(FrameType.Ping, 0, 0, new byte[8]);

        await ExpectConnectionErrorAsync(raw, Http2ErrorCode.ProtocolError);
        Assert.Equal(served + 1, Server.Served);
    }
}

/// <summary>On the inbound listener: our own client's connections, marked.</summary>
public sealed class Http2ServerConformanceInboundTests(H2ConformanceInbound sidecar) : Http2ServerConformanceSidecarTests<H2ConformanceInbound>(sidecar);
