using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Admin;

public sealed class AdminTests
{
    [Fact]
    public async Task Ready_Is503BeforeTheFirstSnapshot_And200After()
    {
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        using var admin = Mesh.Client(proxy.AdminAddress);

        var before = await admin.GetAsync("/ready");
        proxy.ConfigSink.Apply(Mesh.Snapshot(7, []));
        var after = await admin.GetAsync("/ready");
        proxy.AppReady = () => false;
        var appDown = await admin.GetAsync("/ready");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, before.StatusCode);
        Assert.Contains("no mesh config applied yet", await before.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.StartsWith("ready: mesh config version 7", await after.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, appDown.StatusCode);
    }

    [Fact]
    public async Task Clusters_ShowsEndpointsWithAddressAndState()
    {
        await using var backend = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("ok")));
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("web", [Mesh.Endpoint("w1", backend.Address)])]));
        using var client = Mesh.Client(proxy.OutboundAddress, "web");
        await client.GetStringAsync("/");
        using var admin = Mesh.Client(proxy.AdminAddress);

        using var clusters = JsonDocument.Parse(await admin.GetStringAsync("/clusters"));

        var endpoint = clusters.RootElement.GetProperty("web").GetProperty("Endpoints")[0];
        Assert.Equal("w1", endpoint.GetProperty("Id").GetString());
        Assert.Equal(backend.Address.ToString(), endpoint.GetProperty("Address").GetString());
        Assert.Equal("passing", endpoint.GetProperty("Health").GetString());
        Assert.Equal(1, endpoint.GetProperty("Attempts").GetInt64());
        Assert.Equal(0, endpoint.GetProperty("Outstanding").GetInt32());
        Assert.False(endpoint.GetProperty("Ejected").GetBoolean());
    }

    [Fact]
    public async Task Stats_CountsRequestsByRouteAndStatusClass()
    {
        await using var backend = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("ok")));
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("web", [Mesh.Endpoint("w1", backend.Address)])]));
        using var client = Mesh.Client(proxy.OutboundAddress, "web");
        for (var i = 0; i < 3; i++)
            await client.GetStringAsync("/");
        using var admin = Mesh.Client(proxy.AdminAddress);

        using var stats = JsonDocument.Parse(await admin.GetStringAsync("/stats"));

        var route = stats.RootElement.GetProperty("Routes").EnumerateArray()
            .Single(r => r.GetProperty("Service").GetString() == "web" && r.GetProperty("Route").GetString() == "default");
        Assert.Equal("outbound", route.GetProperty("Direction").GetString());
        Assert.Equal(3, route.GetProperty("Requests").GetProperty("2xx").GetInt64());
        Assert.True(stats.RootElement.GetProperty("Listeners").GetProperty("outbound").GetProperty("TotalConnections").GetInt64() >= 1);
    }
}
