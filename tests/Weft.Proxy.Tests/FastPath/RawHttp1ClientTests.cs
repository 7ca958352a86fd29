using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Core.Config;
using Weft.Core.Mesh;
using Weft.Proxy.Hosting;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.FastPath;

/// <summary>
/// The inbound leg to the app without YARP (<see cref="Proxy.FastPath.RawHttp1Client"/>): calls go app → client
/// sidecar → (mTLS, h2) → server sidecar → app over real sockets, and must come out as the YARP path answered them.
/// </summary>
public sealed class RawHttp1ClientTests : IDisposable
{
    private readonly TestCa _ca = new();

    public void Dispose() => _ca.Dispose();

    /// <summary>An "orders" app behind its sidecar, and a "frontend" sidecar that calls it over mTLS.</summary>
    private sealed class Pair(ProxyHost server, ProxyHost client) : IAsyncDisposable
    {
        public ProxyHost Server => server;
        public ProxyHost Client => client;
        public HttpClient Http { get; } = Mesh.Client(client.OutboundAddress, "orders");

        public long Taken => server.AppClient!.Requests;

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await client.DisposeAsync();
            await server.DisposeAsync();
        }
    }

    private async Task<Pair> PairAsync(IPEndPoint app, string caller = "frontend", MeshSnapshot? serverSnapshot = null, params ConfigEntry[] clientEntries)
    {
        var server = await Mesh.SecureProxyAsync(_ca.Workload("orders"), "orders", app);
        Assert.True(server.ConfigSink.Apply(serverSnapshot ?? Mesh.Snapshot(1, [])).Applied);
        var client = await Mesh.SecureProxyAsync(_ca.Workload(caller), caller, Mesh.NoApp);
        Assert.True(client.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("o1", server.InboundAddress, sidecar: true)])], clientEntries)).Applied);
        return new Pair(server, client);
    }

    private static Task<Backend> AppAsync(RequestDelegate handler) => Backend.StartAsync(a => a.Run(handler));

    [Fact]
    public async Task PlainCalls_TakeTheRawHttp1Client_WithTheCallersMethodTargetHostAndHeaders()
    {
        await using var app = await AppAsync(c =>
        {
            c.Response.Headers["x-app"] = "yes";
            return c.Response.WriteAsync($"{c.Request.Method} {c.Request.Path}{c.Request.QueryString} host={c.Request.Host} caller={c.Request.Headers["x-caller"]}");
        });
        await using var pair = await PairAsync(app.Address);

        for (var i = 0; i < 5; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/a/b%20c?i={i}");
            request.Headers.Add("x-caller", "c" + i);
            using var response = await pair.Http.SendAsync(request);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"GET /a/b%20c?i={i} host=orders caller=c{i}", await response.Content.ReadAsStringAsync());
            Assert.Equal("yes", Assert.Single(response.Headers.GetValues("x-app")));
        }

        Assert.Equal(5, pair.Taken);
        Assert.Equal(0, pair.Server.AppClient!.Declined);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    [InlineData(70_000)]
    [InlineData(1_000_000)]
    public async Task Bodies_BothWays_AreCopiedExactly_WithContentLengthAndChunkedResponses(int size)
    {
        await using var app = await AppAsync(async c =>
        {
            if (c.Request.Path == "/buffered")
            {
                // Read whole, answered with a Content-Length.
                using var copy = new MemoryStream();
                await c.Request.Body.CopyToAsync(copy);
                c.Response.ContentLength = copy.Length;
                c.Response.Headers["x-request-length"] = c.Request.ContentLength?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none";
                await c.Response.Body.WriteAsync(copy.ToArray());
                return;
            }

            // Streamed back as it comes: Kestrel answers chunked, in as many chunks as reads.
            await c.Request.Body.CopyToAsync(c.Response.Body);
        });
        await using var pair = await PairAsync(app.Address);
        var body = RandomNumberGenerator.GetBytes(size);

        foreach (var path in new[] { "/buffered", "/echo" })
        {
            using var response = await pair.Http.PostAsync(path, new ByteArrayContent(body));

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(SHA256.HashData(body), SHA256.HashData(await response.Content.ReadAsByteArrayAsync()));
            if (path == "/buffered")
                Assert.Equal(size.ToString(System.Globalization.CultureInfo.InvariantCulture), Assert.Single(response.Headers.GetValues("x-request-length")));
        }

        Assert.Equal(2, pair.Taken);
    }

    /// <summary>A body of unknown length, so it travels without <c>Content-Length</c> (chunked, then an h2 stream).</summary>
    private sealed class UnknownLengthContent(byte[] data) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (var i = 0; i < data.Length; i += 10_000)
            {
                await stream.WriteAsync(data.AsMemory(i, Math.Min(10_000, data.Length - i)));
                await stream.FlushAsync();
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Fact]
    public async Task RequestBodyWithoutLength_ReachesTheAppChunked_AndWhole()
    {
        await using var app = await AppAsync(async c =>
        {
            using var copy = new MemoryStream();
            await c.Request.Body.CopyToAsync(copy);
            await c.Response.WriteAsync($"te={c.Request.Headers.TransferEncoding} cl={c.Request.ContentLength?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"} " +
                Convert.ToHexString(SHA256.HashData(copy.ToArray())));
        });
        await using var pair = await PairAsync(app.Address);
        var body = RandomNumberGenerator.GetBytes(200_000);

        using var response = await pair.Http.PostAsync("/upload", new UnknownLengthContent(body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("te=chunked cl=none " + Convert.ToHexString(SHA256.HashData(body)), await response.Content.ReadAsStringAsync());
        Assert.Equal(1, pair.Taken);
    }

    [Fact]
    public async Task AppAnswers5xx_PassesThroughUnchanged()
    {
        await using var app = await AppAsync(c =>
        {
            c.Response.StatusCode = 503;
            c.Response.Headers["x-from"] = "app";
            return c.Response.WriteAsync("app says no");
        });
        await using var pair = await PairAsync(app.Address);

        using var response = await pair.Http.GetAsync("/");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("app", Assert.Single(response.Headers.GetValues("x-from")));
        Assert.False(response.Headers.Contains("x-weft-error"));
        Assert.Equal("app says no", await response.Content.ReadAsStringAsync());
        Assert.Equal(1, pair.Taken);
    }

    [Fact]
    public async Task AppDown_Is502ConnectFailure_SayingWhy()
    {
        var closed = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var nobody = (IPEndPoint)closed.LocalEndpoint;
        closed.Stop();
        await using var pair = await PairAsync(nobody);

        using var response = await pair.Http.GetAsync("/");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("connect-failure", Assert.Single(response.Headers.GetValues("x-weft-error")));
        Assert.Contains($"could not connect to \"local-app\" at {nobody}", await response.Content.ReadAsStringAsync());
        Assert.Equal(1, pair.Taken);
    }

    [Fact]
    public async Task SlowApp_CallersRouteTimeout_Is504_AndTheAppSeesItsRequestAborted()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var app = await AppAsync(async c =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), c.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            if (c.RequestAborted.IsCancellationRequested)
                aborted.TrySetResult();
        });
        var router = new ServiceRouterEntry
        {
            Kind = ConfigKinds.ServiceRouter,
            Name = "orders",
            Routes = [new ServiceRoute { Match = new ServiceRouteMatch { Http = new ServiceRouteHttpMatch { PathPrefix = "/" } }, Destination = new ServiceRouteDestination { RequestTimeout = TimeSpan.FromMilliseconds(300) } }],
        };
        await using var pair = await PairAsync(app.Address, clientEntries: router);

        using var response = await pair.Http.GetAsync("/slow");

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("timeout", Assert.Single(response.Headers.GetValues("x-weft-error")));
        // The caller's sidecar reset the h2 stream; the app's sidecar must close the app's connection, not wait it out.
        await aborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, pair.Taken);
    }

    [Fact]
    public async Task AppClosesInTheMiddleOfTheBody_TheCallerSeesTheExchangeFail_NotATruncatedSuccess()
    {
        await using var app = new RawUpstream(_ => ("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nonly this"u8.ToArray(), true));
        await using var pair = await PairAsync(app.Address);

        HttpStatusCode? status = null;
        var failure = await Record.ExceptionAsync(async () =>
        {
            using var response = await pair.Http.GetAsync("/");
            status = response.StatusCode;
            await response.Content.ReadAsByteArrayAsync();
        });

        // The server sidecar resets the h2 stream; the caller's sidecar either had started its answer (the connection
        // breaks: an exception) or not yet (it answers 502 upstream-reset). Never a 200 read to its end.
        Assert.True(failure is not null || (int?)status >= 500, $"got {status} and the whole body");
        Assert.Equal(1, pair.Taken);
    }

    [Fact]
    public async Task Intentions_StillDecideBeforeTheApp_ByTheCallersCertificate()
    {
        var hits = 0;
        await using var app = await AppAsync(c =>
        {
            Interlocked.Increment(ref hits);
            return c.Response.WriteAsync("orders app");
        });
        var intentions = new ServiceIntentionsEntry
        {
            Kind = ConfigKinds.ServiceIntentions,
            Name = "orders",
            Sources = [new SourceIntention { Name = "frontend", Action = IntentionActions.Allow }],
        }.Normalized();
        var denyByDefault = Mesh.Snapshot(1, [], intentions) with { IntentionsDefaultAllow = false };
        await using var allowed = await PairAsync(app.Address, "frontend", denyByDefault);
        await using var intruder = await PairAsync(app.Address, "intruder", denyByDefault);

        using var ok = await allowed.Http.GetAsync("/");
        using var denied = await intruder.Http.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        Assert.Equal("intention-denied", Assert.Single(denied.Headers.GetValues("x-weft-error")));
        Assert.Contains("intention-denied: intruder -> orders", await denied.Content.ReadAsStringAsync());
        Assert.Equal(1, Volatile.Read(ref hits));
        Assert.Equal(1, allowed.Taken);
        Assert.Equal(0, intruder.Taken);
    }

    [Fact]
    public async Task HopByHopHeaders_NeverReachTheApp_NorTheCaller()
    {
        string? seen = null;
        await using var app = new RawUpstream(head =>
        {
            seen = head;
            return ("HTTP/1.1 200 OK\r\nConnection: x-secret\r\nX-Secret: s\r\nKeep-Alive: timeout=5\r\nX-Kept: k\r\nContent-Length: 2\r\n\r\nok"u8.ToArray(), false);
        });
        // Plaintext inbound (no workload), so the request can carry what HTTP/1.1 allows and h2 forbids. (X-Hop, named by
        // the request's Connection, is not checked: Kestrel keeps only keep-alive/close of that value, see ConnectionOptions.)
        await using var proxy = await Mesh.ProxyAsync("orders", app.Address);
        Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [])).Applied);
        using var client = await RawClient.ConnectAsync(proxy.InboundAddress);

        await client.SendAsync("GET /h HTTP/1.1\r\nHost: orders\r\nConnection: keep-alive, x-hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n" +
            "Proxy-Authorization: Basic eA==\r\nX-Plain: p\r\n\r\n");
        var response = await client.ReadResponseAsync();

        Assert.Equal(200, response.Status);
        Assert.Equal("ok", response.Text);
        Assert.Equal("k", response.Header("X-Kept"));
        Assert.Null(response.Header("X-Secret"));
        Assert.Null(response.Header("Keep-Alive"));
        var lines = seen!.Split("\r\n").Skip(1).Select(l => l[..l.IndexOf(':', StringComparison.Ordinal)].ToLowerInvariant()).ToList();
        Assert.Contains("x-plain", lines);
        Assert.DoesNotContain("keep-alive", lines);
        Assert.DoesNotContain("connection", lines);
        Assert.DoesNotContain("proxy-authorization", lines);
        Assert.Equal(1, proxy.AppClient!.Requests);
    }

    [Fact]
    public async Task HeadsBiggerThanTheExchangeBuffers_PassWhole_AndTheCallsAfterThemOnTheSameExchangesToo()
    {
        // The exchange's own buffers hold 4 KiB of request head and 8 KiB of response head; bigger ones rent more for that
        // call. Alternating big and small calls runs pooled exchanges through both.
        await using var app = await AppAsync(c =>
        {
            var size = int.Parse(c.Request.Query["reply"]!, System.Globalization.CultureInfo.InvariantCulture);
            c.Response.Headers["x-big"] = new string('r', size);
            return c.Response.WriteAsync($"{c.Request.Path} got {c.Request.Headers["x-big"].ToString().Length}");
        });
        await using var proxy = await Mesh.ProxyAsync("orders", app.Address);
        Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [])).Applied);
        using var http = new HttpClient { BaseAddress = new Uri($"http://{proxy.InboundAddress}") };

        for (var i = 0; i < 6; i++)
        {
            var (sent, reply) = i % 2 == 0 ? (10_000, 20_000) : (3, 5);
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/c{i}?reply={reply}");
            request.Headers.Add("x-big", new string('s', sent));
            using var response = await http.SendAsync(request);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"/c{i} got {sent}", await response.Content.ReadAsStringAsync());
            Assert.Equal(new string('r', reply), Assert.Single(response.Headers.GetValues("x-big")));
        }

        Assert.Equal(6, proxy.AppClient!.Requests);
    }

    [Fact]
    public async Task ManyConcurrentCalls_ReuseTheAppConnections_AndAllSucceed()
    {
        await using var app = await AppAsync(c => c.Response.WriteAsync(c.Request.Path.Value!));
        await using var pair = await PairAsync(app.Address);

        var wrong = await Task.WhenAll(Enumerable.Range(0, 8).Select(async worker =>
        {
            var bad = 0;
            for (var i = 0; i < 40; i++)
            {
                if (await pair.Http.GetStringAsync($"/w{worker}/{i}") != $"/w{worker}/{i}")
                    bad++;
            }

            return bad;
        }));

        Assert.All(wrong, bad => Assert.Equal(0, bad));
        Assert.Equal(320, pair.Taken);
    }
}
