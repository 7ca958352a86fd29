using System.Collections.Concurrent;
using System.Net;
using System.Security.Authentication;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Weft.Core.Mesh;
using Weft.Proxy.Http2;
using Weft.Proxy.Tests.Support;
using Weft.Proxy.Transport;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// The own HTTP/2 client (<see cref="Http2ClientConnection"/> through <see cref="SidecarH2Pool"/>) against a real
/// Kestrel h2 server: h2c, and mTLS through a server sidecar with the test CA.
/// </summary>
public sealed class Http2ClientTests : IDisposable
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);
    private readonly TestCa _ca = new();
    private readonly List<IDisposable> _disposables = [];

    public void Dispose()
    {
        foreach (var disposable in _disposables)
            disposable.Dispose();
        _ca.Dispose();
    }

    private SidecarH2Pool H2cPool(int maxConnections = int.MaxValue, TimeProvider? time = null, TimeSpan? lifetime = null, int window = Http2ClientConnection.DefaultWindow)
    {
        var transport = new UpstreamTransport(null, TimeSpan.FromMinutes(5));
        var pool = new SidecarH2Pool(transport, "orders", ConnectTimeout, maxConnections, lifetime ?? TimeSpan.FromMinutes(5), time ?? TimeProvider.System, window);
        _disposables.Add(pool);
        _disposables.Add(transport);
        return pool;
    }

    private static MeshEndpoint EndpointOf(IPEndPoint address) => Mesh.Endpoint("orders-0", address, sidecar: true);

    private static Task<Backend> H2cBackendAsync(Action<WebApplication> map, int maxStreams = 100) =>
        Backend.StartAsync(map, HttpProtocols.Http2, s => s.Configure<KestrelServerOptions>(k => k.Limits.Http2.MaxStreamsPerConnection = maxStreams));

    /// <summary>What a caller gets back: the status, the headers (lower-case names) and the body.</summary>
    private sealed record Answer(int Status, Dictionary<string, string> Headers, byte[] Body);

    private static byte[] HeaderBlock(string method, string authority, string path, long contentLength, params (string Name, string Value)[] headers)
    {
        var fields = new List<(string, string)> { (":method", method), (":scheme", "http"), (":authority", authority), (":path", path) };
        if (contentLength > 0)
            fields.Add(("content-length", contentLength.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        fields.AddRange(headers);
        var block = new byte[fields.Sum(f => HPackEncoder.MaxEncodedLength(f.Item1.Length, f.Item2.Length))];
        var n = 0;
        foreach (var (name, value) in fields)
            n += HPackEncoder.EncodeField(Encoding.ASCII.GetBytes(name), Encoding.ASCII.GetBytes(value), block.AsSpan(n));
        return block[..n];
    }

    private static async Task<Answer> SendAsync(SidecarH2Pool pool, IPEndPoint address, string method, string path, byte[]? body = null,
        CancellationToken token = default, Func<Task>? beforeEachRead = null, params (string Name, string Value)[] headers)
    {
        var stream = await pool.OpenStreamAsync(EndpointOf(address), token);
        try
        {
            stream.SendHeaders(HeaderBlock(method, address.ToString(), path, body?.Length ?? 0, headers), body?.Length ?? 0);
            var sending = body is { Length: > 0 } ? stream.WriteAsync(body, token).AsTask() : Task.CompletedTask;
            await stream.ReadHeadAsync();
            var answerHeaders = new Dictionary<string, string>();
            for (var i = 0; i < stream.HeaderCount; i++)
                answerHeaders[Encoding.ASCII.GetString(stream.HeaderName(i))] = Encoding.ASCII.GetString(stream.HeaderValue(i));
            var received = new MemoryStream();
            var buffer = new byte[16 * 1024];
            while (true)
            {
                if (beforeEachRead is not null)
                    await beforeEachRead();
                var n = await stream.ReadAsync(buffer, token);
                if (n == 0)
                    break;
                received.Write(buffer, 0, n);
            }

            await sending;
            return new Answer(stream.Status, answerHeaders, received.ToArray());
        }
        finally
        {
            stream.Release();
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task Get_OverH2c_GivesTheStatusHeadersAndBody()
    {
        await using var backend = await H2cBackendAsync(a => a.Run(async c =>
        {
            c.Response.Headers["x-seen-path"] = c.Request.Path + c.Request.QueryString;
            c.Response.Headers["x-seen-host"] = c.Request.Host.Value;
            c.Response.Headers["x-seen-custom"] = c.Request.Headers["x-custom"].ToString();
            c.Response.StatusCode = 201;
            await c.Response.WriteAsync("hello over h2");
        }));
        var pool = H2cPool();

        var answer = await SendAsync(pool, backend.Address, "GET", "/a/b?c=d", headers: ("x-custom", "yes"));

        Assert.Equal(201, answer.Status);
        Assert.Equal("hello over h2", Encoding.UTF8.GetString(answer.Body));
        Assert.Equal("/a/b?c=d", answer.Headers["x-seen-path"]);
        Assert.Equal(backend.Address.ToString(), answer.Headers["x-seen-host"]);
        Assert.Equal("yes", answer.Headers["x-seen-custom"]);
    }

    [Fact]
    public async Task Post_ABodyBeyondTheServersWindows_ArrivesWhole()
    {
        // Kestrel's windows are 768 KiB per stream and 1 MiB per connection: 3 MiB needs its WINDOW_UPDATEs.
        await using var backend = await H2cBackendAsync(a => a.Run(async c =>
        {
            var received = new MemoryStream();
            await c.Request.Body.CopyToAsync(received);
            await c.Response.WriteAsync(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(received.ToArray())) + " " + received.Length);
        }));
        var pool = H2cPool();
        var body = new byte[3 * 1024 * 1024 + 17];
        new Random(7).NextBytes(body);

        var answer = await SendAsync(pool, backend.Address, "POST", "/upload", body);

        Assert.Equal(200, answer.Status);
        Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(body)) + " " + body.Length, Encoding.ASCII.GetString(answer.Body));
    }

    [Fact]
    public async Task LargeResponse_ReadSlowly_HoldsTheServerBackByTheWindow()
    {
        const int Size = 1024 * 1024;
        long written = 0;
        await using var backend = await H2cBackendAsync(a => a.Run(async c =>
        {
            c.Response.ContentLength = Size;
            var chunk = new byte[8 * 1024];
            for (var i = 0; i < Size / chunk.Length; i++)
            {
                Array.Fill(chunk, (byte)i);
                await c.Response.Body.WriteAsync(chunk);
                await c.Response.Body.FlushAsync();
                Interlocked.Add(ref written, chunk.Length);
            }
        }));
        // A 64 KiB window: the server may run ahead of the reader by that, plus what Kestrel buffers itself.
        var pool = H2cPool(window: 64 * 1024);
        long read = 0;
        long maxAhead = 0;

        var answer = await SendAsync(pool, backend.Address, "GET", "/big", beforeEachRead: async () =>
        {
            await Task.Delay(3); // the slow client of the sidecar
            maxAhead = Math.Max(maxAhead, Interlocked.Read(ref written) - read);
            read += 16 * 1024;
        });

        Assert.Equal(200, answer.Status);
        Assert.Equal(Size, answer.Body.Length);
        for (var i = 0; i < Size / (8 * 1024); i++)
            Assert.Equal((byte)i, answer.Body[i * 8 * 1024]);
        Assert.True(maxAhead < 512 * 1024, $"the server ran {maxAhead} bytes ahead of a reader with a 64 KiB window");
    }

    [Fact]
    public async Task HundredConcurrentRequests_OnOneConnection_KeepTheServersStreamLimit()
    {
        var inFlight = 0;
        var maxInFlight = 0;
        var connections = new ConcurrentDictionary<string, bool>();
        // Each request is held until two are in flight at once (or, never, for 10 s once), so a loaded machine that
        // runs the requests one by one cannot make a multiplexing client look like one that is not.
        var overlapped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await H2cBackendAsync(a => a.Run(async c =>
        {
            connections[c.Connection.Id] = true;
            var now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref maxInFlight, now);
            if (now >= 2)
                overlapped.TrySetResult();
            await Task.WhenAny(overlapped.Task, Task.Delay(TimeSpan.FromSeconds(10)));
            overlapped.TrySetResult();
            Interlocked.Decrement(ref inFlight);
            await c.Response.WriteAsync(c.Request.Path);
        }), maxStreams: 10);
        var pool = H2cPool(maxConnections: 1);

        var answers = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => Task.Run(() => SendAsync(pool, backend.Address, "GET", $"/r{i}"))));

        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(200, answers[i].Status);
            Assert.Equal($"/r{i}", Encoding.ASCII.GetString(answers[i].Body));
        }

        Assert.Single(connections);
        Assert.InRange(maxInFlight, 2, 10);

        static void InterlockedMax(ref int target, int value)
        {
            int seen;
            while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
            {
            }
        }
    }

    [Fact]
    public async Task MaxConnectionsOne_ManyFirstRequestsAtOnce_OpenOneConnection()
    {
        // The requests that wait while the first connection opens are woken when it is ready. A waiter woken before the
        // connection joined the pool's list opened a second one, past maxConnections; busy thread-pool threads beside
        // the requests widen that window (before the fix, this test failed in 2 of 4 runs, and 60 rounds of the stream-limit
        // test below under the same load saw two connections in 3 of 4 runs).
        await using var backend = await H2cBackendAsync(a => a.Run(c => c.Response.WriteAsync(c.Connection.Id)));
        using var stop = new CancellationTokenSource();
        var busy = Enumerable.Range(0, Environment.ProcessorCount * 3).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var until = Environment.TickCount64 + 20;
                while (Environment.TickCount64 < until)
                {
                }

                await Task.Yield();
            }
        })).ToArray();
        try
        {
            for (var round = 0; round < 40; round++)
            {
                using var pool = H2cPool(maxConnections: 1);
                var answers = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => Task.Run(() => SendAsync(pool, backend.Address, "GET", $"/r{i}"))));

                Assert.All(answers, a => Assert.Equal(200, a.Status));
                var connections = answers.Select(a => Encoding.ASCII.GetString(a.Body)).Distinct().ToList();
                Assert.True(connections.Count == 1, $"round {round}: the pool opened {connections.Count} connections with maxConnections 1");
                Assert.Equal(1, pool.Connections);
            }
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAll(busy);
        }
    }

    [Fact]
    public async Task CancelledRequest_ResetsItsStream_AndTheConnectionServesOn()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var connections = new ConcurrentDictionary<string, bool>();
        await using var backend = await H2cBackendAsync(a => a.Run(async c =>
        {
            connections[c.Connection.Id] = true;
            if (c.Request.Path == "/hang")
            {
                entered.TrySetResult();
                c.RequestAborted.Register(() => aborted.TrySetResult());
                await Task.Delay(Timeout.Infinite, c.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                return;
            }

            await c.Response.WriteAsync("fine");
        }));
        var pool = H2cPool();
        using var cts = new CancellationTokenSource();

        var hanging = SendAsync(pool, backend.Address, "GET", "/hang", token: cts.Token);
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hanging);
        await aborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var answer = await SendAsync(pool, backend.Address, "GET", "/after");
        Assert.Equal("fine", Encoding.ASCII.GetString(answer.Body));
        Assert.Single(connections);
        Assert.Equal(1, pool.Connections);
    }

    [Fact]
    public async Task ResponseNotRead_ReleasingResetsTheStream_AndTheConnectionServesOn()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await H2cBackendAsync(a => a.Run(async c =>
        {
            if (c.Request.Path == "/declined")
            {
                c.RequestAborted.Register(() => aborted.TrySetResult());
                c.Response.StatusCode = 503;
                await c.Response.Body.FlushAsync();
                await Task.Delay(Timeout.Infinite, c.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                return;
            }

            await c.Response.WriteAsync("fine");
        }));
        var pool = H2cPool();

        var stream = await pool.OpenStreamAsync(EndpointOf(backend.Address), default);
        stream.SendHeaders(HeaderBlock("GET", backend.Address.ToString(), "/declined", 0), 0);
        await stream.ReadHeadAsync();
        Assert.Equal(503, stream.Status);
        stream.Release();

        await aborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("fine", Encoding.ASCII.GetString((await SendAsync(pool, backend.Address, "GET", "/next")).Body));
        Assert.Equal(1, pool.Connections);
    }

    [Fact]
    public async Task ResponsesReleasedUnread_GiveTheirBytesBackToTheConnectionWindow()
    {
        const int Size = 200 * 1024;
        await using var backend = await H2cBackendAsync(a => a.Run(c => c.Response.Body.WriteAsync(new byte[Size]).AsTask()));
        // A 64 KiB window per stream and for the connection: one unread response holds all of the connection's window
        // (and no more of it can arrive to trigger an update) unless releasing gives it back.
        const int Window = 64 * 1024;
        var pool = H2cPool(maxConnections: 1, window: Window);

        var stream = await pool.OpenStreamAsync(EndpointOf(backend.Address), default);
        stream.SendHeaders(HeaderBlock("GET", backend.Address.ToString(), "/declined", 0), 0);
        Assert.Equal(200, await stream.ReadHeadAsync());
        Assert.Equal(1, await stream.ReadAsync(new byte[1]));
        await WaitUntilAsync(() => stream.Buffered == Window - 1, "the server filled the window");
        stream.Release();

        var answer = await SendAsync(pool, backend.Address, "GET", "/read").WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Size, answer.Body.Length);
        Assert.Equal(1, pool.Connections);
    }

    [Fact]
    public async Task LargeHeadersBothWays_TravelInContinuationFrames()
    {
        var big = new string('v', 20 * 1024);
        await using var backend = await H2cBackendAsync(a => a.Run(async c =>
        {
            c.Response.Headers["x-echo"] = c.Request.Headers["x-big"].ToString();
            await c.Response.WriteAsync("ok");
        }));
        var pool = H2cPool();

        var answer = await SendAsync(pool, backend.Address, "GET", "/", headers: ("x-big", big));

        Assert.Equal(200, answer.Status);
        Assert.Equal(big, answer.Headers["x-echo"]);
    }

    [Fact]
    public async Task ServerShutdown_NewRequestsFailAsNotProcessed()
    {
        var backend = await H2cBackendAsync(a => a.Run(c => c.Response.WriteAsync("up")));
        var pool = H2cPool();
        Assert.Equal("up", Encoding.ASCII.GetString((await SendAsync(pool, backend.Address, "GET", "/")).Body));
        Assert.Equal(1, pool.Connections);

        await backend.DisposeAsync();
        // The server's GOAWAY (then its close) takes the connection out of the pool.
        await WaitUntilAsync(() => pool.Connections == 0, "the pool dropped the connection the server closed");

        await Assert.ThrowsAsync<Http2NotProcessedException>(() => SendAsync(pool, backend.Address, "GET", "/"));
    }

    [Fact]
    public async Task GoAwayWhileAStreamIsOpen_TheStreamFinishes_AndNewOnesGoElsewhere()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var backend = await H2cBackendAsync(a => a.Run(async c =>
        {
            entered.TrySetResult();
            await release.Task;
            await c.Response.WriteAsync("finished");
        }));
        var pool = H2cPool();

        var inFlight = SendAsync(pool, backend.Address, "GET", "/slow");
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var stopping = backend.DisposeAsync().AsTask();
        await WaitUntilAsync(() => pool.Connections == 0 || stopping.IsCompleted, "the server's GOAWAY took the connection out of the pool");
        release.TrySetResult();

        // Kestrel lets the stream it already has finish within its shutdown timeout.
        var answer = await inFlight;
        Assert.Equal("finished", Encoding.ASCII.GetString(answer.Body));
        await stopping;
        await Assert.ThrowsAsync<Http2NotProcessedException>(() => SendAsync(pool, backend.Address, "GET", "/"));
    }

    [Fact]
    public async Task ConnectionPastItsLifetime_TakesNoNewStreams()
    {
        var connections = new ConcurrentDictionary<string, bool>();
        await using var backend = await H2cBackendAsync(a => a.Run(c =>
        {
            connections[c.Connection.Id] = true;
            return c.Response.WriteAsync("x");
        }));
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var pool = H2cPool(time: time, lifetime: TimeSpan.FromMinutes(5));

        await SendAsync(pool, backend.Address, "GET", "/1");
        await SendAsync(pool, backend.Address, "GET", "/2");
        Assert.Single(connections);
        time.Advance(TimeSpan.FromMinutes(6));
        await SendAsync(pool, backend.Address, "GET", "/3");

        Assert.Equal(2, connections.Count);
        Assert.Equal(1, pool.Connections);
    }

    [Fact]
    public async Task NothingListening_FailsAsNotProcessed()
    {
        var address = Mesh.FreeAddress();
        var pool = H2cPool();

        await Assert.ThrowsAsync<Http2NotProcessedException>(() => SendAsync(pool, address, "GET", "/"));
    }

    /// <summary>A server sidecar for "orders" over mTLS in front of an app, as the client sidecar's hop meets it.</summary>
    private async Task<(Backend App, Weft.Proxy.Hosting.ProxyHost Server)> OrdersSidecarAsync()
    {
        var app = await Backend.StartAsync(a => a.Run(async c =>
        {
            var received = new MemoryStream();
            await c.Request.Body.CopyToAsync(received);
            await c.Response.WriteAsync($"orders saw {c.Request.Method} {c.Request.Path} with {received.Length} bytes");
        }));
        var server = await Mesh.SecureProxyAsync(_ca.Workload("orders"), "orders", app.Address);
        Assert.True(server.ConfigSink.Apply(Mesh.Snapshot(1, [])).Applied);
        return (app, server);
    }

    private SidecarH2Pool MtlsPool(string service, bool engine = false)
    {
        var transport = new UpstreamTransport(_ca.Workload("frontend"), TimeSpan.FromMinutes(5), engine: engine);
        var pool = new SidecarH2Pool(transport, service, ConnectTimeout, int.MaxValue, TimeSpan.FromMinutes(5), TimeProvider.System);
        _disposables.Add(pool);
        _disposables.Add(transport);
        return pool;
    }

    [Fact]
    public async Task OverMtls_ToTheServiceSidecar_RequestsReachTheApp()
    {
        var (app, server) = await OrdersSidecarAsync();
        await using var _ = app;
        await using var __ = server;
        var pool = MtlsPool("orders");

        var get = await SendAsync(pool, server.InboundAddress, "GET", "/items");
        var post = await SendAsync(pool, server.InboundAddress, "POST", "/items", new byte[100_000]);

        Assert.Equal("orders saw GET /items with 0 bytes", Encoding.ASCII.GetString(get.Body));
        Assert.Equal("orders saw POST /items with 100000 bytes", Encoding.ASCII.GetString(post.Body));
        Assert.Equal(1, pool.Connections);
    }

    [Fact]
    public async Task OverMtls_OnTheEpollEngine_RequestsReachTheApp_AndAnotherServiceIsRefused()
    {
        var (app, server) = await OrdersSidecarAsync();
        await using var _ = app;
        await using var __ = server;
        var pool = MtlsPool("orders", engine: true);

        var get = await SendAsync(pool, server.InboundAddress, "GET", "/items");
        var post = await SendAsync(pool, server.InboundAddress, "POST", "/items", new byte[3 * 1024 * 1024]);
        var e = await Assert.ThrowsAsync<Http2NotProcessedException>(() => SendAsync(MtlsPool("payments", engine: true), server.InboundAddress, "GET", "/items"));

        Assert.Equal("orders saw GET /items with 0 bytes", Encoding.ASCII.GetString(get.Body));
        Assert.Equal($"orders saw POST /items with {3 * 1024 * 1024} bytes", Encoding.ASCII.GetString(post.Body));
        Assert.Equal(1, pool.Connections);
        Assert.IsAssignableFrom<AuthenticationException>(e.InnerException);
    }

    [Fact]
    public async Task RequestsStartedInOneEngineBatch_LeaveInOneWrite_AndAllAreAnswered()
    {
        // The sidecar's fast path starts its requests to another sidecar on the epoll engine's thread, one completion
        // per caller's request; what one batch of events starts must go out in one write (one TLS record, one send).
        var (app, server) = await OrdersSidecarAsync();
        await using var _ = app;
        await using var __ = server;
        var pool = MtlsPool("orders", engine: true);
        Assert.Equal(200, (await SendAsync(pool, server.InboundAddress, "GET", "/warm")).Status);
        var streams = new List<Http2ClientStream>();
        for (var i = 0; i < 10; i++)
            streams.Add(await pool.OpenStreamAsync(EndpointOf(server.InboundAddress), CancellationToken.None));
        var connection = Assert.Single(streams.Select(s => s.Connection).Distinct());
        var writesBefore = connection.Writes;

        // A receive on an engine socket completes on the engine's thread; the requests start from its continuation.
        var (trigger, peer) = await Net.EpollSocketTests.PairAsync();
        using var ___ = trigger;
        using var ____ = peer;
        var onEngine = false;
        var started = trigger.ReceiveAsync(new byte[1]).AsTask().ContinueWith(_ =>
        {
            onEngine = Proxy.Net.EpollEngine.OnEngineThread;
            for (var i = 0; i < streams.Count; i++)
                streams[i].SendHeaders(HeaderBlock("GET", server.InboundAddress.ToString(), $"/batch/{i}", 0), 0);
        }, TaskContinuationOptions.ExecuteSynchronously);
        peer.Send([1]);
        await started.WaitAsync(TimeSpan.FromSeconds(10));

        var bodies = new List<string>();
        foreach (var stream in streams)
        {
            await stream.ReadHeadAsync();
            var body = new MemoryStream();
            await stream.CopyToAsync(body);
            bodies.Add(Encoding.ASCII.GetString(body.ToArray()));
            stream.Release();
        }

        Assert.True(onEngine);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"orders saw GET /batch/{i} with 0 bytes"), bodies);
        // The ten HEADERS frames in one write (one at a time, they would be ten).
        Assert.Equal(1, connection.Writes - writesBefore);
    }

    [Fact]
    public async Task OverMtls_APeerThatIsNotTheExpectedService_IsRefusedAtConnect()
    {
        var (app, server) = await OrdersSidecarAsync();
        await using var _ = app;
        await using var __ = server;
        var pool = MtlsPool("payments");

        var e = await Assert.ThrowsAsync<Http2NotProcessedException>(() => SendAsync(pool, server.InboundAddress, "GET", "/items"));

        Assert.IsAssignableFrom<AuthenticationException>(e.InnerException);
        Assert.Equal(0, pool.Connections);
    }
}
