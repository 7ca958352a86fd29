using System.Net;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Api;

public sealed class CatalogAndHealthApiTests
{
    [Fact]
    public async Task CatalogRegister_ExternalNodeWithServiceAndCheck_IsQueryableEverywhere()
    {
        await using var server = await RunningServer.StartAsync();
        using var response = await server.PutAsync("/v1/catalog/register", """
            {"Node":"db-host","Address":"10.1.2.3","NodeMeta":{"rack":"r1"},
             "Service":{"ID":"pg-1","Service":"postgres","Tags":["primary"],"Port":5432},
             "Check":{"CheckID":"pg-alive","Name":"pg alive","Status":"passing","ServiceID":"pg-1","Output":"ok"}}
            """);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("true", await response.Content.ReadAsStringAsync());

        var services = await server.GetJsonAsync("/v1/catalog/services");
        Assert.Equal(["primary"], services.GetProperty("postgres").EnumerateArray().Select(t => t.GetString()));

        var instances = await server.GetJsonAsync("/v1/catalog/service/postgres");
        Assert.Equal(1, instances.GetArrayLength());
        Assert.Equal("db-host", instances[0].GetProperty("Node").GetString());
        Assert.Equal("10.1.2.3", instances[0].GetProperty("Address").GetString());
        Assert.Equal(5432, instances[0].GetProperty("ServicePort").GetInt32());
        Assert.Equal("r1", instances[0].GetProperty("NodeMeta").GetProperty("rack").GetString());

        Assert.Equal(1, (await server.GetJsonAsync("/v1/catalog/service/postgres?node-meta=rack:r1")).GetArrayLength());
        Assert.Equal(0, (await server.GetJsonAsync("/v1/catalog/service/postgres?node-meta=rack:r2")).GetArrayLength());

        var node = await server.GetJsonAsync("/v1/catalog/node/db-host");
        Assert.Equal("postgres", node.GetProperty("Services").GetProperty("pg-1").GetProperty("Service").GetString());
        Assert.Equal("null", (await server.GetJsonAsync("/v1/catalog/node/nobody")).GetRawText());

        var nodes = await server.GetJsonAsync("/v1/catalog/nodes");
        Assert.Contains(nodes.EnumerateArray(), n => n.GetProperty("Node").GetString() == "db-host");
        Assert.Contains(nodes.EnumerateArray(), n => n.GetProperty("Node").GetString() == "test-node");

        var health = await server.GetJsonAsync("/v1/health/service/postgres?passing");
        Assert.Equal("pg-alive", health[0].GetProperty("Checks")[0].GetProperty("CheckID").GetString());
        Assert.Equal("pg-alive", (await server.GetJsonAsync("/v1/health/checks/postgres"))[0].GetProperty("CheckID").GetString());
        Assert.Equal("pg-alive", (await server.GetJsonAsync("/v1/health/node/db-host"))[0].GetProperty("CheckID").GetString());
        Assert.Equal(["dc1"], (await server.GetJsonAsync("/v1/catalog/datacenters")).EnumerateArray().Select(d => d.GetString()));
    }

    [Fact]
    public async Task CatalogDeregister_ServiceThenNode_RemovesThem()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("/v1/catalog/register", """{"Node":"n1","Address":"10.0.0.1","Service":{"Service":"redis","Port":6379}}""");
        await server.PutOkAsync("/v1/catalog/deregister", """{"Node":"n1","ServiceID":"redis"}""");
        Assert.False((await server.GetJsonAsync("/v1/catalog/services")).TryGetProperty("redis", out _));
        Assert.NotEqual("null", (await server.GetJsonAsync("/v1/catalog/node/n1")).GetRawText());

        await server.PutOkAsync("/v1/catalog/deregister", """{"Node":"n1"}""");
        Assert.Equal("null", (await server.GetJsonAsync("/v1/catalog/node/n1")).GetRawText());
    }

    [Fact]
    public async Task HealthService_PassingAndTagFilters_SelectInstances()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"a","Name":"web","Tags":["blue"],"Check":{"TTL":"1m","Status":"passing"}}""");
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"b","Name":"web","Tags":["green"],"Check":{"TTL":"1m","Status":"warning"}}""");
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"c","Name":"web","Tags":["blue","canary"],"Check":{"TTL":"1m"}}""");

        static IEnumerable<string?> Ids(System.Text.Json.JsonElement entries) =>
            entries.EnumerateArray().Select(e => e.GetProperty("Service").GetProperty("ID").GetString()).Order();

        Assert.Equal(["a", "b", "c"], Ids(await server.GetJsonAsync("/v1/health/service/web")));
        Assert.Equal(["a"], Ids(await server.GetJsonAsync("/v1/health/service/web?passing")));
        Assert.Equal(["a", "b", "c"], Ids(await server.GetJsonAsync("/v1/health/service/web?passing=false")));
        Assert.Equal(["a", "c"], Ids(await server.GetJsonAsync("/v1/health/service/web?tag=blue")));
        Assert.Equal(["c"], Ids(await server.GetJsonAsync("/v1/health/service/web?tag=blue&tag=canary")));

        // Node checks count toward an instance's health, as in Consul.
        var entry = (await server.GetJsonAsync("/v1/health/service/web?tag=green"))[0];
        Assert.Contains(entry.GetProperty("Checks").EnumerateArray(), c => c.GetProperty("CheckID").GetString() == "serfHealth");
    }

    [Fact]
    public async Task HealthState_FiltersChecksByStatus_AndRejectsUnknownStates()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"a","Name":"web","Check":{"TTL":"1m","Status":"warning"}}""");

        var warning = await server.GetJsonAsync("/v1/health/state/warning");
        Assert.Equal(["service:a"], warning.EnumerateArray().Select(c => c.GetProperty("CheckID").GetString()));
        var any = await server.GetJsonAsync("/v1/health/state/any");
        Assert.Equal(2, any.GetArrayLength());

        using var bad = await server.Http.GetAsync("/v1/health/state/sideways");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("sideways", await bad.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task OtherDatacenter_IsRefusedWithConsulsMessage()
    {
        await using var server = await RunningServer.StartAsync();
        using var response = await server.Http.GetAsync("/v1/catalog/services?dc=dc9");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("No path to datacenter", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task StatusEndpoints_AnswerWithoutAToken()
    {
        await using var server = await RunningServer.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = server.Server.HttpAddress };
        var leader = await anonymous.GetStringAsync("/v1/status/leader");
        Assert.Equal($"\"127.0.0.1:{server.Server.HttpAddress.Port}\"", leader);
        Assert.Equal($"[\"127.0.0.1:{server.Server.HttpAddress.Port}\"]", await anonymous.GetStringAsync("/v1/status/peers"));
    }
}
