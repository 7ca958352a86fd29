using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Proxy.Hosting;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Forwarding;

/// <summary>
/// Plain HTTP over h2c (prior knowledge) from an app to its sidecar, on to an HTTP/1.1 service: the benchmark's HTTP/2
/// row. Served by Weft's own HTTP/2 server on the outbound and upstream listeners; <see cref="H2cOutboundKestrelServerTests"/>
/// runs the same with <c>WEFT_FAST_H2_SERVER=0</c> (Kestrel).
/// </summary>
public class H2cOutboundTests
{
    /// <summary>Whether the sidecar serves the app's h2c with its own HTTP/2 server.</summary>
    protected virtual bool OwnServer => true;

    private static Task<Backend> AppAsync() => Backend.StartAsync(a =>
    {
        a.MapPost("/echo", async (HttpContext c) =>
        {
            using var body = new MemoryStream();
            await c.Request.Body.CopyToAsync(body);
            c.Response.Headers["x-length"] = body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await c.Response.Body.WriteAsync(body.ToArray());
        });
        a.MapGet("/{**rest}", (HttpContext c) => $"{c.Request.Protocol} {c.Request.Host} {c.Request.Path}{c.Request.QueryString}");
    });

    /// <summary>An h2c-only client (prior knowledge, one connection) to <paramref name="address"/>, naming <paramref name="host"/>.</summary>
    private static HttpClient H2cClient(IPEndPoint address, string host)
    {
        return new HttpClient(AppH2c.HandlerTo(address))
        {
            BaseAddress = new Uri($"http://{host}"),
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(20),
        };
    }

    private void AssertServedBy(ProxyHost proxy) => AppH2c.AssertServedBy(proxy, OwnServer);

    [Fact]
    public async Task ToTheOutboundListener_Get_PostWithABody_1MiBBack_And100Concurrent_ReachAnHttp11Service()
    {
        await using var app = await AppAsync();
        await using var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { FastH2Server = OwnServer });
        Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("o1", app.Address)])])).Applied);
        using var http = H2cClient(proxy.OutboundAddress, "orders");

        using var get = await http.GetAsync("/orders/7?x=1");
        Assert.Equal(new Version(2, 0), get.Version);
        Assert.Equal("HTTP/1.1 orders /orders/7?x=1", await get.Content.ReadAsStringAsync());

        var payload = new byte[1024 * 1024 + 17];
        new Random(3).NextBytes(payload);
        using var post = await http.PostAsync("/echo", new ByteArrayContent(payload));
        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        Assert.Equal(payload.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), Assert.Single(post.Headers.GetValues("x-length")));
        Assert.Equal(payload, await post.Content.ReadAsByteArrayAsync());

        var answers = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => http.GetStringAsync($"/item/{i}")));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"HTTP/1.1 orders /item/{i}"), answers);
        AssertServedBy(proxy);
    }

    [Fact]
    public async Task ToAnUpstreamListener_EverythingGoesToItsService_AndAnUnknownHostOnOutboundIs404()
    {
        await using var app = await AppAsync();
        await using var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp, "orders") with { FastH2Server = OwnServer });
        Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("o1", app.Address)])])).Applied);
        using var upstream = H2cClient(proxy.UpstreamAddresses["orders"], "anything");
        using var outbound = H2cClient(proxy.OutboundAddress, "nobody");

        Assert.Equal("HTTP/1.1 anything /a/b", await upstream.GetStringAsync("/a/b"));
        using var unknown = await outbound.GetAsync("/");

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("unknown-upstream", Assert.Single(unknown.Headers.GetValues("x-weft-error")));
        // The sidecar's own answer is dated, whichever HTTP/2 server carried it.
        Assert.True(unknown.Headers.Date is { } date && Math.Abs((DateTimeOffset.UtcNow - date).TotalMinutes) < 5, $"Date: {unknown.Headers.Date}");
        Assert.Equal(OwnServer ? 2 : 0, proxy.Metrics.OwnH2?.AppServed ?? 0);
    }
}
