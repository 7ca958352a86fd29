using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Proxy.Hosting;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Observability;

public sealed class TracingTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    /// <summary>frontend's sidecar (outbound) → orders' sidecar (inbound) → orders app, both exporting to one receiver.</summary>
    private static async Task<(string? AppSaw, IReadOnlyList<ReceivedSpan> Spans)> SendThroughTwoSidecarsAsync(string? appTraceParent, double sampling = 1.0)
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        string? appSaw = null;
        await using var app = await Backend.StartAsync(a => a.Run(c =>
        {
            appSaw = c.Request.Headers["traceparent"].ToString();
            return c.Response.WriteAsync("ok");
        }));
        var server = await ProxyHost.StartAsync(Mesh.Options("orders", app.Address) with { OtlpEndpoint = receiver.Endpoint, TraceSourceName = "Weft.Proxy.orders", TraceSampling = sampling });
        var client = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { OtlpEndpoint = receiver.Endpoint, TraceSourceName = "Weft.Proxy.frontend", TraceSampling = sampling });
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

        // Stopping flushed: whatever was exported has arrived.
        return (appSaw, sampling == 0 ? receiver.Spans : await receiver.WaitForAsync(2, Deadline));
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
        var (appSaw, spans) = await SendThroughTwoSidecarsAsync(appTraceParent: null, sampling: 0);

        Assert.Empty(spans);
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-00$", appSaw);
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
