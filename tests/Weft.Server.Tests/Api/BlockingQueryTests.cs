using System.Net;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Api;

public sealed class BlockingQueryTests
{
    [Fact]
    public async Task BlockedQuery_IsWokenByAChangeToItsService_WithAHigherIndex()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"w1","Name":"web"}""");
        var (_, index) = await server.GetWithIndexAsync("/v1/health/service/web");

        var blocked = server.GetWithIndexAsync($"/v1/health/service/web?index={index}&wait=60s");
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"w2","Name":"web"}""");

        var finished = await Task.WhenAny(blocked, Task.Delay(TimeSpan.FromSeconds(10)));
        Assert.Same(blocked, finished);
        var (body, newIndex) = await blocked;
        Assert.True(newIndex > index, $"index went from {index} to {newIndex}");
        Assert.Equal(2, body.GetArrayLength());
    }

    [Fact]
    public async Task BlockedQuery_IsNotWokenByAnotherServicesChange()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"w1","Name":"web"}""");
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"d1","Name":"db"}""");
        var (_, webIndex) = await server.GetWithIndexAsync("/v1/health/service/web");
        var (_, dbIndex) = await server.GetWithIndexAsync("/v1/health/service/db");

        var webWatch = server.GetWithIndexAsync($"/v1/health/service/web?index={webIndex}&wait=60s");
        var dbWatch = server.GetWithIndexAsync($"/v1/health/service/db?index={dbIndex}&wait=60s");
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"d2","Name":"db"}""");

        // The db watcher woke for the db change; by the time it has, the web watcher would have too if it were going to.
        Assert.Same(dbWatch, await Task.WhenAny(dbWatch, Task.Delay(TimeSpan.FromSeconds(10))));
        await server.GetJsonAsync("/v1/health/service/web");
        Assert.False(webWatch.IsCompleted, "a change to db woke a query on web");

        await server.PutOkAsync("/v1/agent/service/deregister/w1", "");
        Assert.Same(webWatch, await Task.WhenAny(webWatch, Task.Delay(TimeSpan.FromSeconds(10))));
        Assert.Equal(0, (await webWatch).Body.GetArrayLength());
    }

    [Fact]
    public async Task BlockedQuery_WithNoChange_AnswersAfterWaitWithTheSameIndex()
    {
        await using var server = await RunningServer.StartAsync();
        var (_, index) = await server.GetWithIndexAsync("/v1/catalog/services");
        var started = DateTime.UtcNow;
        var (_, after) = await server.GetWithIndexAsync($"/v1/catalog/services?index={index}&wait=300ms");
        Assert.Equal(index, after);
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromMilliseconds(290), "answered before the wait ran out");
    }

    [Fact]
    public async Task Index_IsNeverZeroAndNeverGoesBackwards()
    {
        await using var server = await RunningServer.StartAsync();
        var (_, first) = await server.GetWithIndexAsync("/v1/health/service/never-registered");
        Assert.True(first >= 1);

        ulong last = 0;
        for (var i = 0; i < 20; i++)
        {
            await server.PutOkAsync("/v1/agent/service/register", $$"""{"ID":"s{{i}}","Name":"svc","Tags":["t{{i}}"]}""");
            var (_, index) = await server.GetWithIndexAsync("/v1/catalog/services");
            Assert.True(index > last, $"index {index} after {last}");
            last = index;
        }

        await server.PutOkAsync("/v1/agent/service/deregister/s0", "");
        var (_, afterDelete) = await server.GetWithIndexAsync("/v1/health/service/svc");
        Assert.True(afterDelete > last);
    }

    [Fact]
    public async Task CatalogServices_IsNotWokenByAnInstanceThatChangesNoNameOrTag()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"w1","Name":"web","Tags":["a"]}""");
        var (_, index) = await server.GetWithIndexAsync("/v1/catalog/services");

        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"w2","Name":"web","Tags":["a"],"Port":81}""");
        var (_, same) = await server.GetWithIndexAsync("/v1/catalog/services");
        Assert.Equal(index, same);

        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"w3","Name":"web","Tags":["b"]}""");
        var (_, changed) = await server.GetWithIndexAsync("/v1/catalog/services");
        Assert.True(changed > index);
    }

    [Theory]
    [InlineData("index=abc", "Invalid index")]
    [InlineData("index=-1", "Invalid index")]
    [InlineData("index=5&wait=soon", "Invalid wait time")]
    public async Task BadBlockingParameters_Are400(string query, string message)
    {
        await using var server = await RunningServer.StartAsync();
        using var response = await server.Http.GetAsync($"/v1/catalog/services?{query}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task EveryReadEndpoint_SendsConsulsIndexHeaders()
    {
        await using var server = await RunningServer.StartAsync();
        foreach (var path in new[]
        {
            "/v1/agent/services", "/v1/agent/checks", "/v1/agent/self", "/v1/agent/members", "/v1/catalog/services",
            "/v1/catalog/service/x", "/v1/catalog/nodes", "/v1/catalog/node/test-node", "/v1/catalog/datacenters",
            "/v1/health/service/x", "/v1/health/checks/x", "/v1/health/node/test-node", "/v1/health/state/any",
            "/v1/status/leader", "/v1/status/peers",
        })
        {
            using var response = await server.Http.GetAsync(path);
            Assert.True(response.IsSuccessStatusCode, path);
            Assert.True(ulong.Parse(response.Headers.GetValues("X-Consul-Index").Single()) >= 1, path);
            Assert.Equal("true", response.Headers.GetValues("X-Consul-KnownLeader").Single());
            Assert.Equal("0", response.Headers.GetValues("X-Consul-LastContact").Single());
        }
    }
}
