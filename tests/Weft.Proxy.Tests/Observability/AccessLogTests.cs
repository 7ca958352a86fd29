using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Proxy.Hosting;
using Weft.Proxy.Observability;
using Weft.Proxy.Tests.Support;
using Weft.Tests.Shared;

namespace Weft.Proxy.Tests.Observability;

public sealed class AccessLogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("weft-access-log-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static List<JsonElement> Lines(string path) =>
        File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    [Fact]
    public async Task Requests_OkAndNoHealthyEndpoint_OneJsonLineEachWithTheirFields()
    {
        var path = Path.Combine(_dir, "access.log");
        await using var backend = await Backend.StartAsync(a => a.Run(async c =>
        {
            using var reader = new StreamReader(c.Request.Body);
            await c.Response.WriteAsync("got " + await reader.ReadToEndAsync());
        }));
        var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { AccessLogPath = path });
        try
        {
            proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("payments", [Mesh.Endpoint("p1", backend.Address)]), ("refunds", [])]));
            using var payments = Mesh.Client(proxy.OutboundAddress, "payments");
            using var ok = new HttpRequestMessage(HttpMethod.Post, "/pay?x=1") { Content = new StringContent("12345") };
            ok.Headers.TryAddWithoutValidation("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
            Assert.Equal(HttpStatusCode.OK, (await payments.SendAsync(ok)).StatusCode);
            using var refunds = Mesh.Client(proxy.OutboundAddress, "refunds");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await refunds.GetAsync("/refund")).StatusCode);
        }
        finally
        {
            await proxy.DisposeAsync(); // writes what is queued and closes the file
        }

        var lines = Lines(path);
        Assert.Equal(2, lines.Count);
        var first = lines[0];
        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", first.GetProperty("trace_id").GetString());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("source").ValueKind);
        Assert.Equal("outbound", first.GetProperty("direction").GetString());
        Assert.Equal("POST", first.GetProperty("method").GetString());
        Assert.Equal("payments", first.GetProperty("authority").GetString());
        Assert.Equal("/pay", first.GetProperty("path").GetString());
        Assert.Equal(200, first.GetProperty("status").GetInt32());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("error").ValueKind);
        Assert.Equal(backend.Address.ToString(), first.GetProperty("upstream").GetString());
        Assert.Equal(0, first.GetProperty("retries").GetInt32());
        Assert.Equal(5, first.GetProperty("bytes_in").GetInt64());
        Assert.Equal("got 12345".Length, first.GetProperty("bytes_out").GetInt64());
        Assert.True(first.GetProperty("duration_ms").GetDouble() > 0);
        Assert.True(DateTimeOffset.Parse(first.GetProperty("time").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddMinutes(-5));

        var second = lines[1];
        Assert.Equal(503, second.GetProperty("status").GetInt32());
        Assert.Equal("no-healthy-endpoint", second.GetProperty("error").GetString());
        Assert.Equal("refunds", second.GetProperty("authority").GetString());
        Assert.Equal(JsonValueKind.Null, second.GetProperty("trace_id").ValueKind);
        Assert.Equal(JsonValueKind.Null, second.GetProperty("upstream").ValueKind);
    }

    [Fact]
    public async Task Inbound_AppBodyInTheSameReadAsItsHead_ReachesTheCallerWhole_AndIsCounted()
    {
        // The inbound app client writes a body that came with the head without flushing it (Kestrel's end of the response
        // does); with the access log the response body is a counting stream, which only a flush reaches.
        var path = Path.Combine(_dir, "inbound.log");
        await using var app = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("hello from the app")));
        var proxy = await ProxyHost.StartAsync(Mesh.Options("orders", app.Address) with { AccessLogPath = path });
        try
        {
            Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [])).Applied);
            using var client = Mesh.Client(proxy.InboundAddress, "orders");
            for (var i = 0; i < 3; i++)
                Assert.Equal("hello from the app", await client.GetStringAsync("/small"));
            Assert.Equal(3, proxy.AppClient!.Requests);
        }
        finally
        {
            await proxy.DisposeAsync();
        }

        var lines = Lines(path);
        Assert.Equal(3, lines.Count);
        Assert.All(lines, l => Assert.Equal("hello from the app".Length, l.GetProperty("bytes_out").GetInt64()));
        Assert.All(lines, l => Assert.Equal("inbound", l.GetProperty("direction").GetString()));
    }

    [Fact]
    public async Task TracingOnButNotSampled_TraceIdIsTheOneForwarded()
    {
        var path = Path.Combine(_dir, "traced.log");
        await using var receiver = await OtlpReceiver.StartAsync();
        string? forwarded = null;
        await using var backend = await Backend.StartAsync(a => a.Run(c =>
        {
            forwarded = c.Request.Headers["traceparent"].ToString();
            return c.Response.WriteAsync("ok");
        }));
        var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with
        {
            AccessLogPath = path, OtlpEndpoint = receiver.Endpoint, TraceSampling = 0, TraceSourceName = "Weft.Proxy.access-log-traced",
        });
        try
        {
            proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("payments", [Mesh.Endpoint("p1", backend.Address)])]));
            using var payments = Mesh.Client(proxy.OutboundAddress, "payments");
            Assert.Equal(HttpStatusCode.OK, (await payments.GetAsync("/pay")).StatusCode);
        }
        finally
        {
            await proxy.DisposeAsync();
        }

        var line = Assert.Single(Lines(path));
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-00$", forwarded);
        Assert.Equal(forwarded![3..35], line.GetProperty("trace_id").GetString());
        Assert.Empty(receiver.Spans);
    }

    [Fact]
    public async Task Sampling_TenPercent_WritesAboutATenthOfTheRequests()
    {
        var path = Path.Combine(_dir, "sampled.log");
        await using var backend = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("ok")));
        var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { AccessLogPath = path, AccessLogSampling = 0.1 });
        const int requests = 300;
        try
        {
            proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("payments", [Mesh.Endpoint("p1", backend.Address)])]));
            using var client = Mesh.Client(proxy.OutboundAddress, "payments");
            for (var i = 0; i < requests; i++)
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
        }
        finally
        {
            await proxy.DisposeAsync();
        }

        // 30 expected; the bounds are more than six standard deviations away (binomial, sd ≈ 5.2).
        var written = Lines(path).Count;
        Assert.InRange(written, 3, 70);
    }

    [Fact]
    public async Task WriterBehind_LinesAreDropped_CountedOnMetrics_AndEveryRequestIsLoggedOrCounted()
    {
        // A FIFO whose reader opens it and then reads nothing: the writer blocks once the pipe is full, as on a stuck
        // disk, and the queue of 8,192 lines fills behind it.
        var fifo = Path.Combine(_dir, "access.fifo");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
            await mkfifo.WaitForExitAsync();
        var opening = Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Read)); // blocks until the writer opens
        var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { AccessLogPath = fifo });
        await using var reader = await opening.WaitAsync(TimeSpan.FromSeconds(30));
        long sent = 0;
        string metrics;
        try
        {
            proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("refunds", [])]));
            using var admin = Mesh.Client(proxy.AdminAddress);
            using var client = Mesh.Client(proxy.OutboundAddress, "refunds");

            // Bounded: at most 40,000 requests and 2 minutes, and it stops as soon as /metrics shows a drop.
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var dropped = false;
            long started = 0;
            async Task CallAsync()
            {
                while (!Volatile.Read(ref dropped) && Interlocked.Increment(ref started) <= 40_000)
                {
                    using var response = await client.GetAsync("/refund", deadline.Token);
                    Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                    Interlocked.Increment(ref sent);
                }
            }

            var callers = Enumerable.Range(0, 8).Select(_ => Task.Run(CallAsync)).ToList();
            while (!callers.All(c => c.IsCompleted))
            {
                var samples = PromText.Parse(await admin.GetStringAsync("/metrics", deadline.Token));
                if (samples.Any(s => s.Name == "weft_proxy_access_log_dropped_total" && s.Value > 0))
                    Volatile.Write(ref dropped, true);
                await Task.WhenAny(Task.WhenAll(callers), Task.Delay(100, deadline.Token));
            }

            await Task.WhenAll(callers);
            metrics = await admin.GetStringAsync("/metrics");
        }
        finally
        {
            // Read what the writer still holds, so closing the log (which writes what is queued) can finish.
            var drain = Task.Run(() => new StreamReader(reader).ReadToEnd());
            await proxy.DisposeAsync();
            _drained = await drain.WaitAsync(TimeSpan.FromMinutes(1));
        }

        await PromText.AssertPromtoolAcceptsAsync(metrics);
        var parsed = PromText.Parse(metrics);
        var droppedCount = parsed.Single(s => s.Name == "weft_proxy_access_log_dropped_total").Value;
        Assert.Equal("frontend", parsed.Single(s => s.Name == "weft_proxy_access_log_dropped_total").Labels["service"]);
        Assert.True(droppedCount > 0, $"nothing dropped after {sent} requests");
        Assert.True(parsed.Single(s => s.Name == "weft_proxy_access_log_lines_total").Value > 0);
        // Every request is either a line in the log or counted as dropped, never both, never lost (the final count, read
        // once the proxy has ended every request).
        var lines = _drained.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        Assert.Equal(sent, lines + proxy.AccessLog!.Dropped);
        Assert.True(proxy.AccessLog.Dropped >= droppedCount);
    }

    private string _drained = "";

    [Fact]
    public async Task On_MetricsCountLinesWritten_AndNoneDropped()
    {
        var path = Path.Combine(_dir, "counted.log");
        var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { AccessLogPath = path });
        await using (proxy)
        {
            proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("refunds", [])]));
            using var client = Mesh.Client(proxy.OutboundAddress, "refunds");
            for (var i = 0; i < 5; i++)
                await client.GetAsync("/refund");
            using var admin = Mesh.Client(proxy.AdminAddress);
            // The writer appends in the background: wait (30 s at most) until it has written all five.
            var deadline = DateTime.UtcNow.AddSeconds(30);
            var samples = PromText.Parse(await admin.GetStringAsync("/metrics"));
            while (samples.Single(s => s.Name == "weft_proxy_access_log_lines_total").Value < 5 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
                samples = PromText.Parse(await admin.GetStringAsync("/metrics"));
            }

            Assert.Equal(5, samples.Single(s => s.Name == "weft_proxy_access_log_lines_total").Value);
            Assert.Equal(0, samples.Single(s => s.Name == "weft_proxy_access_log_dropped_total").Value);
        }
    }

    [Fact]
    public async Task Off_ByDefault_NoAccessLog()
    {
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        Assert.Null(proxy.AccessLog);
        using var admin = Mesh.Client(proxy.AdminAddress);
        Assert.DoesNotContain("weft_proxy_access_log", await admin.GetStringAsync("/metrics"));
    }

    [Theory]
    [InlineData("0", 0.0)]
    [InlineData("0.01", 0.01)]
    [InlineData("1", 1.0)]
    public void Ratio_InRange_Parses(string text, double expected)
    {
        Assert.True(Ratio.TryParse(text, out var ratio, out _));
        Assert.Equal(expected, ratio);
    }

    [Theory]
    [InlineData("1.5")]
    [InlineData("-0.1")]
    [InlineData("ten")]
    [InlineData("")]
    public void Ratio_Malformed_SaysWhatIsExpected(string text)
    {
        Assert.False(Ratio.TryParse(text, out _, out var error));
        Assert.Equal($"\"{text}\" is not a ratio from 0 to 1 (e.g. 0.01 for 1%)", error);
    }
}
