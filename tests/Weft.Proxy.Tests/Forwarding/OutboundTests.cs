using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Weft.Core.Config;
using Weft.Core.Mesh;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Forwarding;

public sealed class OutboundTests
{
    [Fact]
    public async Task Outbound_HostNamesService_ForwardsToNonSidecarBackend()
    {
        await using var backend = await Backend.StartAsync(app => app.Run(c => c.Response.WriteAsync($"payments {c.Request.Protocol} {c.Request.Path}{c.Request.QueryString} host={c.Request.Host}")));
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("payments", [Mesh.Endpoint("p1", backend.Address)])])).Applied);

        using var client = Mesh.Client(proxy.OutboundAddress, "payments:8080");
        var body = await client.GetStringAsync("/charge?id=7");

        Assert.Equal("payments HTTP/1.1 /charge?id=7 host=payments:8080", body);
    }

    [Fact]
    public async Task Outbound_ToSidecarEndpoint_SpeaksHttp2WithPriorKnowledge()
    {
        // A stand-in for the remote sidecar's inbound listener that only speaks HTTP/2.
        await using var remote = await Backend.StartAsync(app => app.Run(c => c.Response.WriteAsync(c.Request.Protocol)), HttpProtocols.Http2);
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("o1", remote.Address, sidecar: true)])]));

        using var client = Mesh.Client(proxy.OutboundAddress, "orders");

        Assert.Equal("HTTP/2", await client.GetStringAsync("/"));
    }

    [Fact]
    public async Task TwoHops_ClientSidecarToServerSidecarToApp_DeliversRequestAndBody()
    {
        await using var app = await Backend.StartAsync(a => a.Run(async c =>
        {
            using var reader = new StreamReader(c.Request.Body);
            await c.Response.WriteAsync($"app got {c.Request.Method} {c.Request.Path} {c.Request.Protocol} '{await reader.ReadToEndAsync()}'");
        }));
        await using var server = await Mesh.ProxyAsync("orders", app.Address);
        server.ConfigSink.Apply(Mesh.Snapshot(1, []));
        await using var client = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        client.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("o1", server.InboundAddress, sidecar: true)])]));

        using var http = Mesh.Client(client.OutboundAddress, "orders");
        var response = await http.PostAsync("/orders", new StringContent("two hops"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("app got POST /orders HTTP/1.1 'two hops'", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Inbound_Http11_HeadersNamedInConnection_AreRemovedBothWays()
    {
        await using var app = await Backend.StartAsync(a => a.Run(c =>
        {
            c.Response.Headers.Connection = "X-Resp-Hop";
            c.Response.Headers["X-Resp-Hop"] = "internal";
            c.Response.Headers["X-Resp-End"] = "kept";
            return c.Response.WriteAsync(string.Join(",", c.Request.Headers.Keys.Select(k => k.ToLowerInvariant()).Order()));
        }));
        await using var server = await Mesh.ProxyAsync("orders", app.Address);
        server.ConfigSink.Apply(Mesh.Snapshot(1, []));
        using var client = Mesh.Client(server.InboundAddress);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Connection.Add("X-Req-Hop");
        request.Headers.Add("X-Req-Hop", "secret");
        request.Headers.Add("X-Req-End", "kept");
        using var response = await client.SendAsync(request);
        var received = (await response.Content.ReadAsStringAsync()).Split(',');

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("x-req-end", received);
        Assert.DoesNotContain("x-req-hop", received);
        Assert.Equal("kept", response.Headers.GetValues("X-Resp-End").Single());
        Assert.False(response.Headers.Contains("X-Resp-Hop"));
    }

    [Fact]
    public async Task Inbound_AcceptsHttp11AndH2cOnOnePort()
    {
        await using var app = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("ok")));
        await using var server = await Mesh.ProxyAsync("orders", app.Address);

        using var h1 = Mesh.Client(server.InboundAddress);
        using var h2 = Mesh.Client(server.InboundAddress);
        h2.DefaultRequestVersion = HttpVersion.Version20;
        h2.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;

        var r1 = await h1.GetAsync("/");
        var r2 = await h2.GetAsync("/");

        Assert.Equal(new Version(1, 1), r1.Version);
        Assert.Equal(new Version(2, 0), r2.Version);
        Assert.Equal("ok", await r2.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Router_PathPrefixAndHeaderMatch_RewritesPrefixAndGoesToDestination()
    {
        await using var v1 = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync($"api {c.Request.Path}{c.Request.QueryString}")));
        await using var other = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync($"web {c.Request.Path}")));
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        var router = new ServiceRouterEntry
        {
            Kind = ConfigKinds.ServiceRouter,
            Name = "web",
            Routes =
            [
                new ServiceRoute
                {
                    Match = new ServiceRouteMatch { Http = new ServiceRouteHttpMatch { PathPrefix = "/api/", Header = [new HeaderMatch { Name = "x-tenant", Exact = "blue" }] } },
                    Destination = new ServiceRouteDestination { Service = "api", PrefixRewrite = "/v1/" },
                },
            ],
        };
        Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("web", [Mesh.Endpoint("w", other.Address)]), ("api", [Mesh.Endpoint("a", v1.Address)])], router)).Applied);
        using var client = Mesh.Client(proxy.OutboundAddress, "web");

        using var matching = new HttpRequestMessage(HttpMethod.Get, "/api/users?page=2") { Headers = { { "x-tenant", "blue" } } };
        using var otherTenant = new HttpRequestMessage(HttpMethod.Get, "/api/users") { Headers = { { "x-tenant", "red" } } };

        Assert.Equal("api /v1/users?page=2", await (await client.SendAsync(matching)).Content.ReadAsStringAsync());
        Assert.Equal("web /api/users", await (await client.SendAsync(otherTenant)).Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Splitter_80_20_LandsWithinFivePercentOver2000Requests()
    {
        await using var v1 = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("v1")));
        await using var v2 = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("v2")));
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        var splitter = new ServiceSplitterEntry
        {
            Kind = ConfigKinds.ServiceSplitter,
            Name = "web",
            Splits = [new ServiceSplit { Weight = 80, ServiceSubset = "v1" }, new ServiceSplit { Weight = 20, ServiceSubset = "v2" }],
        };
        var resolver = new ServiceResolverEntry
        {
            Kind = ConfigKinds.ServiceResolver,
            Name = "web",
            Subsets = new()
            {
                ["v1"] = new ServiceResolverSubset { Filter = "Service.Meta.version == \"v1\"" },
                ["v2"] = new ServiceResolverSubset { Filter = "Service.Meta.version == \"v2\" and Service.Tags contains \"canary\"" },
            },
        };
        var canary = Mesh.Endpoint("b", v2.Address, false, ("version", "v2")) with { Tags = ["canary"] };
        var result = proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("web", [Mesh.Endpoint("a", v1.Address, false, ("version", "v1")), canary])], splitter, resolver));
        Assert.True(result.Applied, result.Error);
        using var client = Mesh.Client(proxy.OutboundAddress, "web");

        var counts = new int[2];
        await Parallel.ForAsync(0, 2000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (_, ct) =>
        {
            var body = await client.GetStringAsync("/", ct);
            Interlocked.Increment(ref counts[body == "v1" ? 0 : 1]);
        });

        Assert.Equal(2000, counts[0] + counts[1]);
        Assert.InRange(counts[1] / 2000.0, 0.15, 0.25);
    }
}
