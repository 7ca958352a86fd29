using System.Globalization;
using Weft.Proxy.Hosting;
using Weft.Proxy.Http2;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// An app speaking h2c to its sidecar's outbound listener, the far sidecar (<see cref="H2FarSide"/>) answering with DATA
/// that disagrees with its content-length: on the app's stream, never more DATA than the content-length it got, a short
/// body never ended as complete (END_STREAM), a 502 <c>upstream-reset</c> when nothing had reached the app yet; and
/// its next stream on the same connection (or a new one, if that closed) gets its own answer. Served by the own
/// server (the default) or Kestrel (<c>WEFT_FAST_H2_SERVER=0</c>).
/// </summary>
public abstract class AppH2cResponseLengthTests
{
    protected abstract bool OwnServer { get; }

    public static TheoryData<string> CaseNames => [.. H2FarSide.LengthCases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task BodyDisagreeingWithContentLength_NeverReachesTheAppsStreamAsMoreOrAsComplete_AndTheNextStreamGetsItsOwnAnswer(string name)
    {
        var (frames, declared, sent) = H2FarSide.LengthCases[name];
        await using var far = H2FarSide.Scripted(frames);
        await using var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { FastH2Server = OwnServer });
        Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("orders-0", far.Address, sidecar: true)])])).Applied);
        var app = await RawH2Client.ConnectAsync(proxy.OutboundAddress, marked: false);
        try
        {
            await app.GetAsync(1, "/first");
            var open = await AssertFirstStreamAsync(app, declared, sent);
            if (!open)
            {
                await app.DisposeAsync();
                app = await RawH2Client.ConnectAsync(proxy.OutboundAddress, marked: false);
            }

            var nextId = open ? 3 : 1;
            await app.GetAsync(nextId, "/next");
            var (status, body, _) = await app.ReadResponseAsync(nextId);
            Assert.Equal((200, "fresh /next"), (status, System.Text.Encoding.ASCII.GetString(body)));
        }
        finally
        {
            await app.DisposeAsync();
        }

        Assert.Equal(2, far.Requests);
        AppH2c.AssertServedBy(proxy, OwnServer);
    }

    /// <summary>What stream 1 carried, checked; whether the connection is still open.</summary>
    private static async Task<bool> AssertFirstStreamAsync(RawH2Client app, int declared, string sent)
    {
        Dictionary<string, string>? head = null;
        var received = 0;
        while (await app.ReadFrameAsync() is { } frame)
        {
            var (header, payload) = frame;
            if (header.StreamId != 1)
                continue;
            if (header.Type == FrameType.RstStream)
                return true;
            if (header.Type == FrameType.Headers)
            {
                head = app.Decode(payload);
                if (head[":status"] == "200")
                    Assert.Equal(declared.ToString(CultureInfo.InvariantCulture), head.GetValueOrDefault("content-length"));
            }
            else if (header.Type == FrameType.Data)
            {
                received += payload.Length;
                Assert.NotNull(head);
                Assert.True(head[":status"] != "200" || received <= declared, $"the app's stream carried {received} bytes of DATA under content-length {declared}");
            }

            if ((header.Flags & FrameFlags.EndStream) == 0 || header.Type is not (FrameType.Headers or FrameType.Data))
                continue;
            Assert.NotNull(head);
            if (head[":status"] == "502")
            {
                Assert.Equal("upstream-reset", head.GetValueOrDefault("x-weft-error"));
                return true;
            }

            // Ended as complete: only a longer body cut to what was declared may.
            Assert.True(sent.Length > declared, $"a body shorter than its content-length reached the app as complete ({received} bytes)");
            Assert.Equal(declared, received);
            return true;
        }

        // The connection closed (within the read's deadline): the stream never ended as complete.
        return false;
    }
}

public sealed class AppH2cResponseLengthOwnServerTests : AppH2cResponseLengthTests
{
    protected override bool OwnServer => true;
}

public sealed class AppH2cResponseLengthKestrelTests : AppH2cResponseLengthTests
{
    protected override bool OwnServer => false;
}
