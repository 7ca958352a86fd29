using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using OpenTelemetry.Exporter;
using Weft.Proxy.Hosting;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Observability;

public sealed class TracingTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    /// <summary>frontend's sidecar (outbound) → orders' sidecar (inbound) → orders app, both exporting to one receiver.</summary>
    private static async Task<(string? AppSaw, IReadOnlyList<ReceivedSpan> Spans)> SendThroughTwoSidecarsAsync(string? appTraceParent, double sampling = 1.0, int expected = 2)
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var appSaw = await SendThroughTwoSidecarsAsync(receiver.Endpoint, OtlpExportProtocol.HttpProtobuf, appTraceParent, sampling);
        // Stopping flushed: whatever was exported has arrived.
        return (appSaw, expected == 0 ? receiver.Spans : await receiver.WaitForAsync(expected, Deadline));
    }

    /// <summary>The same request through two sidecars exporting to <paramref name="collector"/>; the traceparent the app saw.</summary>
    private static async Task<string?> SendThroughTwoSidecarsAsync(Uri collector, OtlpExportProtocol protocol, string? appTraceParent, double sampling)
    {
        string? appSaw = null;
        await using var app = await Backend.StartAsync(a => a.Run(c =>
        {
            appSaw = c.Request.Headers["traceparent"].ToString();
            return c.Response.WriteAsync("ok");
        }));
        var server = await ProxyHost.StartAsync(Mesh.Options("orders", app.Address) with
        {
            OtlpEndpoint = collector, OtlpProtocol = protocol, TraceSourceName = "Weft.Proxy.orders", TraceSampling = sampling,
        });
        var client = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with
        {
            OtlpEndpoint = collector, OtlpProtocol = protocol, TraceSourceName = "Weft.Proxy.frontend", TraceSampling = sampling,
        });
        try
        {
            server.ConfigSink.Apply(Mesh.Snapshot(1, []));
            client.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("o1", server.InboundAddress, sidecar: true)])]));
            using var http = Mesh.Client(client.OutboundAddress, "orders");
            using var request = new HttpRequestMessage(HttpMethod.Get, "/orders/7");
            if (appTraceParent is not null)
                request.Headers.TryAddWithoutValidation("traceparent", appTraceParent);
            var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        finally
        {
            // Stopping flushes the spans still batched.
            await client.DisposeAsync();
            await server.DisposeAsync();
        }

        return appSaw;
    }

    /// <summary>
    /// frontend's sidecar → an instance registered without a sidecar, over the HTTP/1.1 fast path; the trace headers
    /// the instance saw, the spans exported, and whether the fast path carried the request.
    /// </summary>
    private static async Task<(string TraceParent, string TraceState, IReadOnlyList<ReceivedSpan> Spans, bool OnFastPath)> SendOnTheFastPathAsync(
        string? traceParent, string? traceState, double sampling, int expected)
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        string? sawParent = null, sawState = null;
        await using var instance = await Backend.StartAsync(a => a.Run(c =>
        {
            sawParent = c.Request.Headers["traceparent"].ToString();
            sawState = c.Request.Headers["tracestate"].ToString();
            return c.Response.WriteAsync("ok");
        }));
        var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with
        {
            OtlpEndpoint = receiver.Endpoint, TraceSourceName = "Weft.Proxy.frontend-fast", TraceSampling = sampling,
        });
        bool onFastPath;
        try
        {
            proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("o1", instance.Address)])]));
            using var client = await Weft.Proxy.Tests.FastPath.RawClient.ConnectAsync(proxy.OutboundAddress);
            var head = "GET /orders/7 HTTP/1.1\r\nHost: orders\r\nUser-Agent: test\r\n"
                + (traceParent is null ? "" : $"traceparent: {traceParent}\r\n")
                + (traceState is null ? "" : $"tracestate: {traceState}\r\n")
                + "Accept: */*\r\n\r\n";
            await client.SendAsync(head);
            var response = await client.ReadResponseAsync();
            Assert.Equal(200, response.Status);
            Assert.Equal("ok", response.Text);
            onFastPath = proxy.FastPath is { Connections: 1, FallBacks: 0 };
        }
        finally
        {
            await proxy.DisposeAsync();
        }

        return (sawParent!, sawState!, expected == 0 ? receiver.Spans : await receiver.WaitForAsync(expected, Deadline), onFastPath);
    }

    [Fact]
    public async Task TwoSidecars_AppSentNoTraceparent_OneTraceWithClientSpanParentOfServerSpan()
    {
        var (appSaw, spans) = await SendThroughTwoSidecarsAsync(appTraceParent: null);

        Assert.Equal(2, spans.Count);
        var clientSpan = Assert.Single(spans, s => s.Service == "frontend");
        var serverSpan = Assert.Single(spans, s => s.Service == "orders");
        Assert.Equal(3, clientSpan.Kind); // SPAN_KIND_CLIENT
        Assert.Equal(2, serverSpan.Kind); // SPAN_KIND_SERVER
        Assert.Equal(clientSpan.TraceId, serverSpan.TraceId);
        Assert.Equal("", clientSpan.ParentSpanId); // a new trace: the app sent none
        Assert.Equal(clientSpan.SpanId, serverSpan.ParentSpanId);
        // The app behind the inbound sidecar sees the server span as its parent.
        Assert.Equal($"00-{serverSpan.TraceId}-{serverSpan.SpanId}-01", appSaw);

        Assert.Equal("GET", clientSpan.Attributes["http.request.method"]);
        Assert.Equal("/orders/7", clientSpan.Attributes["url.path"]);
        Assert.Equal("200", clientSpan.Attributes["http.response.status_code"]);
        Assert.Equal("orders", clientSpan.Attributes["server.address"]);
        Assert.Equal("orders", clientSpan.Attributes["weft.upstream.service"]);
        Assert.Equal("0", clientSpan.Attributes["weft.retries"]);
        Assert.True(clientSpan.Attributes.ContainsKey("weft.route"));
        Assert.Equal("200", serverSpan.Attributes["http.response.status_code"]);
    }

    [Fact]
    public async Task TwoSidecars_AppSentTraceparent_TraceIsContinued()
    {
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        const string appSpan = "00f067aa0ba902b7";

        var (appSaw, spans) = await SendThroughTwoSidecarsAsync($"00-{traceId}-{appSpan}-01");

        Assert.Equal(2, spans.Count);
        Assert.All(spans, s => Assert.Equal(traceId, s.TraceId));
        var clientSpan = Assert.Single(spans, s => s.Service == "frontend");
        var serverSpan = Assert.Single(spans, s => s.Service == "orders");
        Assert.Equal(appSpan, clientSpan.ParentSpanId);
        Assert.Equal(clientSpan.SpanId, serverSpan.ParentSpanId);
        Assert.Equal($"00-{traceId}-{serverSpan.SpanId}-01", appSaw);
    }

    [Fact]
    public async Task SamplingZero_NewTraceIsPropagatedUnsampledAndNothingIsExported()
    {
        var (appSaw, spans) = await SendThroughTwoSidecarsAsync(appTraceParent: null, sampling: 0, expected: 0);

        Assert.Empty(spans);
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-00$", appSaw);
    }

    [Fact]
    public async Task TwoSidecars_CallerSentUnsampledTraceparent_NoSpanAnywhereAndTheTraceIdReachesTheAppWithFlag00()
    {
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        const string appSpan = "00f067aa0ba902b7";

        // Sampling 1: only the caller's flag can keep these hops from recording.
        var (appSaw, spans) = await SendThroughTwoSidecarsAsync($"00-{traceId}-{appSpan}-00", sampling: 1, expected: 0);

        Assert.Empty(spans);
        var forwarded = Regex.Match(appSaw!, $"^00-{traceId}-([0-9a-f]{{16}})-00$");
        Assert.True(forwarded.Success, appSaw);
        Assert.NotEqual(appSpan, forwarded.Groups[1].Value);
        Assert.NotEqual("0000000000000000", forwarded.Groups[1].Value);
    }

    [Fact]
    public async Task TwoSidecars_SamplingOne_ExportOneSpanPerHop()
    {
        var (_, spans) = await SendThroughTwoSidecarsAsync(appTraceParent: null, sampling: 1);

        Assert.Equal(["frontend", "orders"], spans.Select(s => s.Service).Order().ToArray());
        Assert.Single(spans.Select(s => s.TraceId).Distinct());
    }

    [Fact]
    public async Task FastPath_SampledParent_SpanExportedAsItsChild_AndTheInstanceSeesTheSpanAsParent()
    {
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        const string appSpan = "00f067aa0ba902b7";

        // Sampling 0: the caller's sampled flag alone decides.
        var (parent, state, spans, onFastPath) = await SendOnTheFastPathAsync($"00-{traceId}-{appSpan}-01", "vendor=abc", sampling: 0, expected: 1);

        Assert.True(onFastPath);
        var span = Assert.Single(spans);
        Assert.Equal(traceId, span.TraceId);
        Assert.Equal(appSpan, span.ParentSpanId);
        Assert.Equal(3, span.Kind); // SPAN_KIND_CLIENT
        Assert.Equal("/orders/7", span.Attributes["url.path"]);
        Assert.Equal($"00-{traceId}-{span.SpanId}-01", parent);
        Assert.Equal("vendor=abc", state);
    }

    [Fact]
    public async Task FastPath_UnsampledParent_NoSpan_TheInstanceSeesTheTraceIdWithANewSpanIdAndFlag00AndTheTracestate()
    {
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        const string appSpan = "00f067aa0ba902b7";

        var (parent, state, spans, onFastPath) = await SendOnTheFastPathAsync($"00-{traceId}-{appSpan}-00", "vendor=abc", sampling: 1, expected: 0);

        Assert.True(onFastPath);
        Assert.Empty(spans);
        var forwarded = Regex.Match(parent, $"^00-{traceId}-([0-9a-f]{{16}})-00$");
        Assert.True(forwarded.Success, parent);
        Assert.NotEqual(appSpan, forwarded.Groups[1].Value);
        Assert.Equal("vendor=abc", state);
    }

    [Fact]
    public async Task FastPath_NoParentAtSamplingZero_NoSpan_ANewTraceIsForwardedUnsampled()
    {
        // A tracestate without a valid traceparent belongs to no trace: it is dropped (W3C).
        var (parent, state, spans, onFastPath) = await SendOnTheFastPathAsync(traceParent: null, "vendor=abc", sampling: 0, expected: 0);

        Assert.True(onFastPath);
        Assert.Empty(spans);
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-00$", parent);
        Assert.DoesNotMatch("^00-0{32}-", parent);
        Assert.Equal("", state);
    }

    [Fact]
    public async Task FastPath_MalformedParentAtSamplingOne_ANewTraceIsRecorded()
    {
        // Uppercase hex is not a valid traceparent: the hop starts a trace of its own.
        var (parent, _, spans, onFastPath) = await SendOnTheFastPathAsync("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", null, sampling: 1, expected: 1);

        Assert.True(onFastPath);
        var span = Assert.Single(spans);
        Assert.Equal("", span.ParentSpanId);
        Assert.NotEqual("4bf92f3577b34da6a3ce929d0e0e4736", span.TraceId);
        Assert.Equal($"00-{span.TraceId}-{span.SpanId}-01", parent);
    }

    [Fact]
    public async Task OtlpOverGrpc_SpansOfBothHopsArriveWithTheirServiceAndTheCallersTraceId()
    {
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        await using var receiver = await OtlpGrpcReceiver.StartAsync();

        var appSaw = await SendThroughTwoSidecarsAsync(receiver.Endpoint, OtlpExportProtocol.Grpc, $"00-{traceId}-00f067aa0ba902b7-01", sampling: 1);
        var spans = await receiver.WaitForAsync(2, Deadline);

        Assert.Equal(2, spans.Count);
        Assert.All(spans, s => Assert.Equal(traceId, s.TraceId));
        var clientSpan = Assert.Single(spans, s => s.Service == "frontend");
        var serverSpan = Assert.Single(spans, s => s.Service == "orders");
        Assert.Equal(clientSpan.SpanId, serverSpan.ParentSpanId);
        Assert.Equal("GET", clientSpan.Attributes["http.request.method"]);
        Assert.Equal($"00-{traceId}-{serverSpan.SpanId}-01", appSaw);
    }

    [Fact]
    public async Task NoOtlpEndpoint_TraceparentPassesThroughUnchanged()
    {
        string? appSaw = null;
        await using var app = await Backend.StartAsync(a => a.Run(c =>
        {
            appSaw = c.Request.Headers["traceparent"].ToString();
            return c.Response.WriteAsync("ok");
        }));
        await using var server = await Mesh.ProxyAsync("orders", app.Address);
        server.ConfigSink.Apply(Mesh.Snapshot(1, []));
        await using var client = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        client.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("o1", server.InboundAddress, sidecar: true)])]));
        using var http = Mesh.Client(client.OutboundAddress, "orders");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        const string sent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        request.Headers.TryAddWithoutValidation("traceparent", sent);

        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(request)).StatusCode);
        Assert.Equal(sent, appSaw);
        Assert.Null(client.Tracing);
    }
}
