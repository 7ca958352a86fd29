using System.Net;
using System.Net.Sockets;
using System.Text;
using Weft.Proxy.Hosting;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.FastPath;

/// <summary>
/// The sidecar's two HTTP/1.1 response parsers against an upstream scripted byte by byte (<see cref="UpstreamCases"/>):
/// the caller must see the response or a clean failure, and above all the next request must get its own answer, on a
/// fresh connection whenever the first one's framing was in doubt or left bytes over (no response queue poisoning).
/// Subclasses say which consumer sits between the caller and the upstream.
/// </summary>
public abstract class UpstreamResponseRobustnessTests
{
    /// <summary>
    /// A sidecar that sends what its callers send to <c>Host</c> to one upstream over HTTP/1.1, by the consumer under
    /// test when <paramref name="Headers"/> are added to the request; <paramref name="Took"/>: it took every call.
    /// </summary>
    protected sealed record Hop(IAsyncDisposable Proxy, IPEndPoint Address, string Host, Func<int, bool> Took, string Headers = "");

    protected abstract Task<Hop> StartAsync(IPEndPoint upstream);

    private static byte[] Fresh(string path) => Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {6 + path.Length}\r\n\r\nfresh {path}");

    /// <summary>The upstream: the scripted bytes for <c>/first</c>, an honest "fresh {path}" for anything else.</summary>
    private static RawUpstream Upstream(UpstreamCase script) => new(head =>
    {
        var path = head.Split(' ')[1];
        return path == "/first" ? (Encoding.Latin1.GetBytes(script.Response), script.UpstreamCloses) : (Fresh(path), false);
    });

    /// <summary>One request on a new caller connection; the final response (interim ones skipped), or null when the connection broke first.</summary>
    private static async Task<RawResponse?> CallAsync(Hop hop, string path, string method = "GET")
    {
        using var client = await RawClient.ConnectAsync(hop.Address);
        try
        {
            await client.SendAsync($"{method} {path} HTTP/1.1\r\nHost: {hop.Host}\r\n{hop.Headers}\r\n");
            var response = await client.ReadResponseAsync(method == "HEAD");
            while (response.Status < 200)
                response = await client.ReadResponseAsync(method == "HEAD");
            return response;
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            return null;
        }
    }

    /// <summary>The next call gets its own answer; on the same upstream connection or a new one, as <paramref name="reused"/> says.</summary>
    private static async Task AssertNextCallIsAnsweredAsync(Hop hop, RawUpstream upstream, bool reused)
    {
        var before = upstream.Connections;
        var next = await CallAsync(hop, "/next");

        Assert.NotNull(next);
        Assert.Equal(200, next.Status);
        Assert.Equal("fresh /next", next.Text);
        Assert.Equal(reused ? before : before + 1, upstream.Connections);
    }

    [Theory]
    [MemberData(nameof(UpstreamCases.Names), MemberType = typeof(UpstreamCases))]
    public async Task ScriptedResponse_CallerSeesItOrACleanFailure_AndTheNextCallGetsItsOwnAnswer(string name)
    {
        var script = UpstreamCases.All[name];
        await using var upstream = Upstream(script);
        var hop = await StartAsync(upstream.Address);
        await using var _ = hop.Proxy;

        var first = await CallAsync(hop, "/first", script.Method);

        switch (script.Outcome)
        {
            case Outcome.Reused or Outcome.Closed:
                Assert.NotNull(first);
                Assert.Equal((script.Status, script.Body), (first.Status, first.Text));
                break;
            case Outcome.BadGateway:
                Assert.NotNull(first);
                Assert.Equal(502, first.Status);
                Assert.Equal("upstream-reset", first.Header("x-weft-error"));
                if (script.Reason is { } reason)
                    Assert.Contains(reason, first.Text, StringComparison.Ordinal);
                break;
            case Outcome.Broken:
                Assert.True(first is null || first.Status == 502, $"got a complete {first?.Status}: {first?.Text}");
                break;
        }

        await AssertNextCallIsAnsweredAsync(hop, upstream, reused: script.Outcome == Outcome.Reused);
        Assert.True(hop.Took(2), "the consumer under test did not take both calls");
    }

    /// <summary>
    /// A body longer than its Content-Length (the extra bytes the start of another response), or shorter and then the
    /// upstream closes: on the caller's own keep-alive connection (<see cref="DeclaredLength"/>), never more body than
    /// the head it got declared, a short body never as a complete response, and its next request answered by a new
    /// upstream connection, without a byte of the bad response before it.
    /// </summary>
    private static readonly Dictionary<string, (int Declared, string Sent, bool Closes)> LengthCases = new()
    {
        ["longer, the upstream keeps the connection"] = (5, "helloHTTP/1", false),
        ["longer, then the upstream closes"] = (5, "helloHTTP/1", true),
        ["longer by a whole response"] = (5, "helloHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\npoison", false),
        ["shorter, then the upstream closes"] = (11, "hello", true),
    };

    public static TheoryData<string> LengthCaseNames => [.. LengthCases.Keys];

    [Theory]
    [MemberData(nameof(LengthCaseNames))]
    public async Task BodyDisagreeingWithContentLength_TheCallersConnectionCarriesNoMoreThanDeclared_AndTheNextRequestGetsItsOwnAnswer(string name)
    {
        var (declared, sent, closes) = LengthCases[name];
        await using var upstream = new RawUpstream(head => head.Split(' ')[1] == "/first"
            ? (Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\n\r\n{sent}"), closes)
            : (Fresh(head.Split(' ')[1]), false));
        var hop = await StartAsync(upstream.Address);
        await using var _ = hop.Proxy;
        using var caller = await RawClient.ConnectAsync(hop.Address);
        string Request(string path) => $"GET {path} HTTP/1.1\r\nHost: {hop.Host}\r\n{hop.Headers}\r\n";

        var open = await DeclaredLength.AssertFirstAsync(caller, Request("/first"), declared, sent);
        await DeclaredLength.AssertNextAsync(caller, open, () => RawClient.ConnectAsync(hop.Address), Request("/next"), "fresh /next");

        Assert.Equal(2, upstream.Connections);
        Assert.True(hop.Took(2), "the consumer under test did not take both calls");
    }

    [Fact]
    public async Task UnsolicitedResponse_OnAnIdlePooledConnection_ThatConnectionIsNotUsedAgain()
    {
        await using var upstream = Upstream(UpstreamCases.All["no-reason-phrase"]);
        var hop = await StartAsync(upstream.Address);
        await using var _ = hop.Proxy;
        Assert.Equal("fresh /one", (await CallAsync(hop, "/one"))?.Text);
        Assert.Equal(1, upstream.Connections);

        // The pooled connection now carries a response nobody asked for: the next request must not be answered by it.
        await upstream.SendUnsolicitedAsync(0, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\npoison"u8.ToArray());

        await AssertNextCallIsAnsweredAsync(hop, upstream, reused: false);
        await AssertNextCallIsAnsweredAsync(hop, upstream, reused: true);
        Assert.True(hop.Took(3));
    }

    [Fact]
    public async Task EarlyResponse_BeforeTheRequestBodyIsSent_AnswersWithoutHanging_AndTheNextCallGetsItsOwnAnswer()
    {
        // The upstream refuses at the head and closes without reading a byte of the (large, streamed) body.
        await using var upstream = new RawUpstream(head => head.StartsWith("POST", StringComparison.Ordinal)
            ? ("HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 8\r\n\r\ntoo big!"u8.ToArray(), true)
            : (Fresh(head.Split(' ')[1]), false));
        var hop = await StartAsync(upstream.Address);
        await using var _ = hop.Proxy;
        const int size = 8 * 1024 * 1024;

        using (var client = await RawClient.ConnectAsync(hop.Address))
        {
            await client.SendAsync($"POST /upload HTTP/1.1\r\nHost: {hop.Host}\r\nContent-Length: {size}\r\n{hop.Headers}\r\n");
            var sending = Task.Run(async () =>
            {
                try
                {
                    await client.SendAsync(new byte[size]);
                }
                catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
                {
                    // The sidecar may stop reading (and close) once the answer is known.
                }
            });
            RawResponse? response;
            try
            {
                response = await client.ReadResponseAsync();
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                response = null;
            }

            // The 413 itself, though the upstream's close reset the rest of the body; never a hang, never a 502 instead.
            Assert.NotNull(response);
            Assert.Equal((413, "too big!"), (response.Status, response.Text));
            client.Close();
            await sending.WaitAsync(TimeSpan.FromSeconds(20));
        }

        await AssertNextCallIsAnsweredAsync(hop, upstream, reused: false);
        Assert.True(hop.Took(2));
    }

    [Fact]
    public async Task EarlyResponse_FromAnUpstreamThatStopsReadingButKeepsTheConnection_ReachesTheCallerAtOnce()
    {
        // The upstream refuses at the head, then neither reads the rest of the (large, streamed) body nor closes: the
        // answer must reach the caller now, not when a timeout ends the attempt (there is none here).
        await using var upstream = new RawUpstream(
            head => head.StartsWith("POST", StringComparison.Ordinal)
                ? ("HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n\r\ntoo big!"u8.ToArray(), false)
                : (Fresh(head.Split(' ')[1]), false),
            stall: head => head.StartsWith("POST", StringComparison.Ordinal));
        var hop = await StartAsync(upstream.Address);
        await using var _ = hop.Proxy;
        const int size = 64 * 1024 * 1024;

        using (var client = await RawClient.ConnectAsync(hop.Address))
        {
            await client.SendAsync($"POST /upload HTTP/1.1\r\nHost: {hop.Host}\r\nContent-Length: {size}\r\n{hop.Headers}\r\n");
            using var stopSending = new CancellationTokenSource();
            // The sidecar stops reading (and closes) once the answer is known.
            var sending = client.StreamBodyAsync(size, stopSending.Token);

            var response = await client.ReadResponseAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal((413, "too big!"), (response.Status, response.Text));
            await stopSending.CancelAsync();
            client.Close();
            await sending.WaitAsync(TimeSpan.FromSeconds(20));
        }

        await AssertNextCallIsAnsweredAsync(hop, upstream, reused: false);
        Assert.True(hop.Took(2));
    }
}

/// <summary>The HTTP/1.1 fast path, one hop: caller → sidecar (outbound) → an instance registered without a sidecar.</summary>
public class FastPathUpstreamResponseTests : UpstreamResponseRobustnessTests
{
    protected virtual bool FastEngine => ProxyOptions.FastEngineByEnvironment;

    protected override async Task<Hop> StartAsync(IPEndPoint upstream)
    {
        var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { FastPath = true, FastEngine = FastEngine });
        Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("legacy", [Mesh.Endpoint("legacy-0", upstream)])])).Applied);
        return new Hop(proxy, proxy.OutboundAddress, "legacy", _ => proxy.FastPath!.FallBacks == 0);
    }
}

/// <summary>The same on .NET sockets (<c>WEFT_FAST_ENGINE=0</c>): the pooled connections' idle check differs.</summary>
public sealed class FastPathSocketUpstreamResponseTests : FastPathUpstreamResponseTests
{
    protected override bool FastEngine => false;
}

/// <summary>The raw HTTP/1.1 client on the inbound leg: caller → server sidecar (plaintext inbound) → its app.</summary>
public sealed class RawClientUpstreamResponseTests : UpstreamResponseRobustnessTests
{
    protected override async Task<Hop> StartAsync(IPEndPoint upstream)
    {
        var proxy = await Mesh.ProxyAsync("orders", upstream);
        Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [])).Applied);
        return new Hop(proxy, proxy.InboundAddress, "orders", calls => proxy.AppClient!.Requests == calls);
    }
}

/// <summary>
/// The raw HTTP/1.1 client on the layered outbound path: caller → sidecar (outbound) → an instance without a sidecar,
/// for a request the fast path leaves to Kestrel (here, one with <c>Connection: close</c>).
/// </summary>
public sealed class RawClientOutboundUpstreamResponseTests : UpstreamResponseRobustnessTests
{
    protected override async Task<Hop> StartAsync(IPEndPoint upstream)
    {
        var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { FastPath = true });
        Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("o0", upstream)])])).Applied);
        return new Hop(proxy, proxy.OutboundAddress, "orders", calls => proxy.AppClient!.Requests == calls, "Connection: close\r\n");
    }
}
