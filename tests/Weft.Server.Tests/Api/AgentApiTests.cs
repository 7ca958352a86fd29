using System.Net;
using System.Text.Json;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Api;

public sealed class AgentApiTests
{
    [Fact]
    public async Task Register_ServiceWithOneCheck_IsListedWithConsulsCheckId()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("/v1/agent/service/register",
            """{"ID":"web-1","Name":"web","Tags":["v1","eu"],"Address":"10.0.0.5","Port":8080,"Meta":{"team":"edge"},"Check":{"TTL":"30s"}}""");

        var services = await server.GetJsonAsync("/v1/agent/services");
        var web = services.GetProperty("web-1");
        Assert.Equal("web", web.GetProperty("Service").GetString());
        Assert.Equal(8080, web.GetProperty("Port").GetInt32());
        Assert.Equal("10.0.0.5", web.GetProperty("Address").GetString());
        Assert.Equal(["v1", "eu"], web.GetProperty("Tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("edge", web.GetProperty("Meta").GetProperty("team").GetString());
        Assert.Equal(1, web.GetProperty("Weights").GetProperty("Passing").GetInt32());

        var checks = await server.GetJsonAsync("/v1/agent/checks");
        var check = checks.GetProperty("service:web-1");
        Assert.Equal("Service 'web' check", check.GetProperty("Name").GetString());
        Assert.Equal("critical", check.GetProperty("Status").GetString());
        Assert.Equal("ttl", check.GetProperty("Type").GetString());
        Assert.Equal("web-1", check.GetProperty("ServiceID").GetString());
    }

    [Fact]
    public async Task Register_SeveralChecks_AreNumberedFromOne()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("/v1/agent/service/register",
            """{"Name":"api","Checks":[{"TTL":"30s"},{"TTL":"1m","Name":"second"},{"CheckID":"own","TTL":"5s","Status":"passing"}]}""");

        var checks = await server.GetJsonAsync("/v1/agent/checks");
        Assert.True(checks.TryGetProperty("service:api:1", out _));
        Assert.Equal("second", checks.GetProperty("service:api:2").GetProperty("Name").GetString());
        Assert.Equal("passing", checks.GetProperty("own").GetProperty("Status").GetString());
        Assert.Equal("api", (await server.GetJsonAsync("/v1/agent/service/api")).GetProperty("ID").GetString());
    }

    [Fact]
    public async Task Reregister_WithReplaceExistingChecks_DropsChecksNotSent()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("/v1/agent/service/register", """{"Name":"db","Checks":[{"CheckID":"a","TTL":"30s"},{"CheckID":"b","TTL":"30s"}]}""");
        await server.PutOkAsync("/v1/agent/service/register", """{"Name":"db","Checks":[{"CheckID":"a","TTL":"30s"}]}""");
        Assert.Equal("critical", await server.CheckStatusAsync("b"));

        await server.PutOkAsync("/v1/agent/service/register?replace-existing-checks", """{"Name":"db","Checks":[{"CheckID":"a","TTL":"30s"}]}""");
        Assert.Equal("(absent)", await server.CheckStatusAsync("b"));
        Assert.Equal("critical", await server.CheckStatusAsync("a"));
    }

    [Fact]
    public async Task TtlCheck_PassWarnFail_SetStatusAndNote()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("/v1/agent/service/register", """{"Name":"job","Check":{"TTL":"1m"}}""");

        await server.PutOkAsync("/v1/agent/check/pass/service:job?note=all%20good", "");
        var check = (await server.GetJsonAsync("/v1/agent/checks")).GetProperty("service:job");
        Assert.Equal("passing", check.GetProperty("Status").GetString());
        Assert.Equal("all good", check.GetProperty("Output").GetString());

        await server.PutOkAsync("/v1/agent/check/warn/service:job", "");
        Assert.Equal("warning", await server.CheckStatusAsync("service:job"));
        await server.PutOkAsync("/v1/agent/check/fail/service:job", "");
        Assert.Equal("critical", await server.CheckStatusAsync("service:job"));
        await server.PutOkAsync("/v1/agent/check/update/service:job", """{"Status":"passing","Output":"from update"}""");
        check = (await server.GetJsonAsync("/v1/agent/checks")).GetProperty("service:job");
        Assert.Equal("from update", check.GetProperty("Output").GetString());
    }

    [Fact]
    public async Task CheckRegister_NodeCheckAndServiceCheck_AreStoredWithConsulDefaults()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("/v1/agent/service/register", """{"Name":"cache","Port":6379}""");
        await server.PutOkAsync("/v1/agent/check/register", """{"Name":"disk","TTL":"30s"}""");
        await server.PutOkAsync("/v1/agent/check/register", """{"ID":"cache-ping","Name":"ping","ServiceID":"cache","TTL":"30s","Status":"warning"}""");

        var checks = await server.GetJsonAsync("/v1/agent/checks");
        Assert.Equal("", checks.GetProperty("disk").GetProperty("ServiceID").GetString());
        Assert.Equal("cache", checks.GetProperty("cache-ping").GetProperty("ServiceName").GetString());
        Assert.Equal("warning", checks.GetProperty("cache-ping").GetProperty("Status").GetString());

        using var unknownService = await server.PutAsync("/v1/agent/check/register", """{"Name":"x","ServiceID":"nope","TTL":"1s"}""");
        Assert.Equal(HttpStatusCode.BadRequest, unknownService.StatusCode);
        Assert.Contains("\"nope\" does not exist", await unknownService.Content.ReadAsStringAsync());

        await server.PutOkAsync("/v1/agent/check/deregister/disk", "");
        Assert.Equal("(absent)", await server.CheckStatusAsync("disk"));
    }

    [Fact]
    public async Task Deregister_RemovesServiceAndItsChecks_UnknownIdIs404WithConsulsMessage()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"w1","Name":"web","Check":{"TTL":"30s"}}""");
        await server.PutOkAsync("/v1/agent/service/deregister/w1", "");

        Assert.Equal("{}", (await server.GetJsonAsync("/v1/agent/services")).GetRawText());
        Assert.Equal("(absent)", await server.CheckStatusAsync("service:w1"));

        using var again = await server.PutAsync("/v1/agent/service/deregister/w1", "");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        Assert.Equal("Unknown service ID \"w1\". Ensure that the service ID is passed, not the service name.", await again.Content.ReadAsStringAsync());

        using var missing = await server.Http.GetAsync("/v1/agent/service/w1");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task PassOnNonTtlCheck_IsRefusedAndUnknownCheckIs404()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("/v1/agent/service/register", """{"Name":"web","Check":{"TCP":"127.0.0.1:1","Interval":"1m"}}""");

        using var notTtl = await server.PutAsync("/v1/agent/check/pass/service:web", "");
        Assert.Equal(HttpStatusCode.BadRequest, notTtl.StatusCode);
        Assert.Contains("does not have associated TTL", await notTtl.Content.ReadAsStringAsync());

        using var unknown = await server.PutAsync("/v1/agent/check/pass/nope", "");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task SelfAndMembers_DescribeThisServersNode()
    {
        await using var server = await RunningServer.StartAsync(nodeName: "alpha");
        var self = await server.GetJsonAsync("/v1/agent/self");
        Assert.Equal("alpha", self.GetProperty("Config").GetProperty("NodeName").GetString());
        Assert.Equal("dc1", self.GetProperty("Config").GetProperty("Datacenter").GetString());
        Assert.True(Guid.TryParse(self.GetProperty("Config").GetProperty("NodeID").GetString(), out _));

        var members = await server.GetJsonAsync("/v1/agent/members");
        Assert.Equal("alpha", members[0].GetProperty("Name").GetString());
        Assert.Equal(1, members[0].GetProperty("Status").GetInt32());
    }

    [Fact]
    public async Task Register_OutputEscapesNothingConsulWouldNot()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("/v1/agent/service/register", """{"Name":"it's","Check":{"TTL":"30s"}}""");
        using var response = await server.Http.GetAsync("/v1/agent/checks");
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("Service 'it's' check", text);
        Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(text).RootElement.ValueKind);
    }
}
