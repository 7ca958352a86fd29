using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Core.Config;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Routing;

public sealed class MeshConfigTests
{
    private static ServiceRouterEntry RegexRouter(string regex) => new()
    {
        Kind = ConfigKinds.ServiceRouter,
        Name = "web",
        Routes = [new ServiceRoute { Match = new ServiceRouteMatch { Http = new ServiceRouteHttpMatch { PathRegex = regex } }, Destination = new ServiceRouteDestination { PrefixRewrite = null } }],
    };

    [Fact]
    public async Task Apply_InvalidRegex_IsRejectedAndThePreviousTableKeepsServing()
    {
        await using var backend = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("web")));
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        var endpoints = new[] { ("web", new[] { Mesh.Endpoint("w", backend.Address) }) };
        Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, endpoints, RegexRouter("/users/[0-9]+"))).Applied);

        var result = proxy.ConfigSink.Apply(Mesh.Snapshot(2, endpoints, RegexRouter("/users/[0-9+")));

        Assert.False(result.Applied);
        Assert.Contains("service-router \"web\" Routes[0] PathRegex: invalid regex", result.Error);
        using var client = Mesh.Client(proxy.OutboundAddress, "web");
        Assert.Equal("web", await client.GetStringAsync("/users/12"));
        using var admin = Mesh.Client(proxy.AdminAddress);
        using var config = JsonDocument.Parse(await admin.GetStringAsync("/config"));
        Assert.Equal(1, config.RootElement.GetProperty("Version").GetInt32());
        Assert.Equal(2, config.RootElement.GetProperty("LastRejected").GetProperty("Version").GetInt32());
        Assert.Contains("invalid regex", config.RootElement.GetProperty("LastRejected").GetProperty("Reason").GetString());
    }

    [Fact]
    public async Task Apply_SplitsNotSummingTo100_IsRejectedWithTheSum()
    {
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        var splitter = new ServiceSplitterEntry
        {
            Kind = ConfigKinds.ServiceSplitter,
            Name = "web",
            Splits = [new ServiceSplit { Weight = 60, Service = "a" }, new ServiceSplit { Weight = 30, Service = "b" }],
        };

        var result = proxy.ConfigSink.Apply(Mesh.Snapshot(1, [], splitter));

        Assert.False(result.Applied);
        Assert.Equal("service-splitter \"web\": split weights sum to 90, not 100", result.Error);
        Assert.False(proxy.IsReady);
    }

    [Fact]
    public async Task Apply_UndefinedSubsetOrBadFilter_IsRejected()
    {
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        var router = new ServiceRouterEntry
        {
            Kind = ConfigKinds.ServiceRouter,
            Name = "web",
            Routes = [new ServiceRoute { Destination = new ServiceRouteDestination { ServiceSubset = "v9" } }],
        };
        var badFilter = new ServiceResolverEntry
        {
            Kind = ConfigKinds.ServiceResolver,
            Name = "web",
            DefaultSubset = "v1",
            Subsets = new() { ["v1"] = new ServiceResolverSubset { Filter = "Service.Port > 3" } },
        };

        Assert.Contains("subset \"v9\" of service \"web\" is not defined", proxy.ConfigSink.Apply(Mesh.Snapshot(1, [], router)).Error);
        Assert.Contains("unsupported filter clause \"Service.Port > 3\"", proxy.ConfigSink.Apply(Mesh.Snapshot(2, [], badFilter)).Error);
    }

    [Fact]
    public async Task Apply_NewSnapshot_ReplacesEndpoints()
    {
        await using var one = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("one")));
        await using var two = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("two")));
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        using var client = Mesh.Client(proxy.OutboundAddress, "web");

        proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("web", [Mesh.Endpoint("1", one.Address)])]));
        Assert.Equal("one", await client.GetStringAsync("/"));
        proxy.ConfigSink.Apply(Mesh.Snapshot(2, [("web", [Mesh.Endpoint("2", two.Address)])]));
        Assert.Equal("two", await client.GetStringAsync("/"));
        proxy.ConfigSink.Apply(Mesh.Snapshot(3, []));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/")).StatusCode);
    }
}
