using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Core.Config;
using Weft.Proxy.Hosting;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.FastPath;

/// <summary>
/// The outbound leg to an instance registered without a sidecar, for what the HTTP/1.1 fast path does not take (an app
/// speaking h2c, an HTTP/1.1 request the fast path hands to Kestrel): the layered path sends it with
/// <see cref="Proxy.FastPath.RawHttp1Client"/> instead of YARP, and the caller must see what YARP gave.
/// </summary>
public sealed class RawHttp1ClientOutboundTests
{
    private static async Task<ProxyHost> ClientAsync(IPEndPoint[] instances, bool fastPath = true, params ConfigEntry[] entries)
    {
        var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { FastPath = fastPath });
        var endpoints = instances.Select((address, i) => Mesh.Endpoint($"o{i}", address)).ToArray();
        Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", endpoints)], entries)).Applied);
        return proxy;
    }

    private static HttpClient H2c(ProxyHost proxy)
    {
        var client = Mesh.Client(proxy.OutboundAddress, "orders");
        client.DefaultRequestVersion = HttpVersion.Version20;
        client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        return client;
    }

    [Fact]
    public async Task H2cFromTheApp_TakesTheRawClient_AndAnswersAsYarpDoes()
    {
        await using var app = await Backend.StartAsync(a => a.Run(c =>
        {
            c.Response.Headers["x-app"] = "yes";
            c.Response.Headers["x-multi"] = new Microsoft.Extensions.Primitives.StringValues(["a", "b"]);
            return c.Response.WriteAsync($"{c.Request.Protocol} {c.Request.Method} {c.Request.Path}{c.Request.QueryString} host={c.Request.Host} caller={c.Request.Headers["x-caller"]}");
        }));
        await using var raw = await ClientAsync([app.Address]);
        await using var yarp = await ClientAsync([app.Address], fastPath: false);

        async Task<(HttpStatusCode Status, string Body, string Headers, Version Version)> CallAsync(ProxyHost proxy)
        {
            using var http = H2c(proxy);
            using var request = new HttpRequestMessage(HttpMethod.Get, "/orders/7?full=1") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
            request.Headers.Add("x-caller", "frontend-app");
            using var response = await http.SendAsync(request);
            var headers = string.Join(";", response.Headers.Where(h => h.Key.StartsWith("x-", StringComparison.Ordinal)).Select(h => $"{h.Key}={string.Join(",", h.Value)}").Order());
            return (response.StatusCode, await response.Content.ReadAsStringAsync(), headers, response.Version);
        }

        var viaRaw = await CallAsync(raw);
        var viaYarp = await CallAsync(yarp);

        Assert.Equal((HttpStatusCode.OK, "HTTP/1.1 GET /orders/7?full=1 host=orders caller=frontend-app"), (viaRaw.Status, viaRaw.Body));
        Assert.Equal(HttpVersion.Version20, viaRaw.Version);
        Assert.Equal(viaYarp, viaRaw);
        Assert.Equal(1, raw.AppClient!.Requests);
    }

    [Fact]
    public async Task H2cPost_RetriedOn503_ReachesTheInstanceWholeBothTimes()
    {
        var bodies = new List<string>();
        await using var app = await Backend.StartAsync(a => a.Run(async c =>
        {
            using var reader = new StreamReader(c.Request.Body);
            var body = await reader.ReadToEndAsync();
            int n;
            lock (bodies)
            {
                bodies.Add(Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(body))));
                n = bodies.Count;
            }

            c.Response.StatusCode = n == 1 ? 503 : 200;
            await c.Response.WriteAsync($"{body.Length}");
        }));
        await using var proxy = await ClientAsync([app.Address], entries:
            Mesh.Router("orders", new ServiceRouteDestination { NumRetries = 1, RetryOnStatusCodes = [503] }));
        var sent = new string('x', 20_000) + "end";

        using var http = H2c(proxy);
        using var response = await http.PostAsync("/pay", new StringContent(sent));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal($"{sent.Length}", await response.Content.ReadAsStringAsync());
        var expected = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(sent)));
        lock (bodies)
            Assert.Equal([expected, expected], bodies);
        Assert.Equal(2, proxy.AppClient!.Requests);
    }

    [Fact]
    public async Task H2cToAnInstanceNobodyListensOn_Is502ConnectFailure_SayingWhy()
    {
        var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var nobody = (IPEndPoint)closed.LocalEndpoint;
        closed.Stop();
        await using var proxy = await ClientAsync([nobody]);

        using var http = H2c(proxy);
        using var response = await http.GetAsync("/");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("connect-failure", Assert.Single(response.Headers.GetValues("x-weft-error")));
        Assert.Contains($"{nobody}", await response.Content.ReadAsStringAsync());
        // Connect failures are retried by default: every attempt went through the raw client.
        Assert.True(proxy.AppClient!.Requests >= 1);
    }

    [Fact]
    public async Task Http11ChunkedRequest_TheFastPathHandsToKestrel_GoesRawAndArrivesWhole()
    {
        await using var app = await Backend.StartAsync(a => a.Run(async c =>
        {
            using var reader = new StreamReader(c.Request.Body);
            var body = await reader.ReadToEndAsync();
            await c.Response.WriteAsync($"{c.Request.ContentLength?.ToString() ?? "none"} {body}");
        }));
        await using var proxy = await ClientAsync([app.Address]);

        using var http = Mesh.Client(proxy.OutboundAddress, "orders");
        using var content = new StreamContent(new MemoryStream(Encoding.ASCII.GetBytes("streamed body")));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/upload") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("none streamed body", await response.Content.ReadAsStringAsync());
        Assert.Equal(1, proxy.FastPath!.FallBacks);
        Assert.Equal(1, proxy.AppClient!.Requests);
    }
}
