using System.Net;
using System.Text;
using System.Text.Json;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Api;

public sealed class IntentionsApiTests : IAsyncLifetime
{
    private RunningServer _server = null!;

    public async Task InitializeAsync() => _server = await RunningServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await _server.Http.SendAsync(request);
        return (response.StatusCode, (await response.Content.ReadAsStringAsync()).Trim());
    }

    private async Task<bool> AllowedAsync(string source, string destination) =>
        (await _server.GetJsonAsync($"/v1/connect/intentions/check?source={Uri.EscapeDataString(source)}&destination={Uri.EscapeDataString(destination)}"))
            .GetProperty("Allowed").GetBoolean();

    [Fact]
    public async Task PutExact_StoresASourceOfTheDestinationsEntry_AndGetExactReadsIt()
    {
        Assert.Equal((HttpStatusCode.OK, "true"), await SendAsync(HttpMethod.Put, "/v1/connect/intentions/exact?source=orders&destination=payments", """{"Action":"allow","Description":"checkout"}"""));
        Assert.Equal((HttpStatusCode.OK, "true"), await SendAsync(HttpMethod.Put, "/v1/connect/intentions/exact?source=*&destination=payments", """{"Action":"deny"}"""));

        var intention = await _server.GetJsonAsync("/v1/connect/intentions/exact?source=orders&destination=payments");
        Assert.Equal(("orders", "payments", "allow", 9, "checkout", "consul"), (
            intention.GetProperty("SourceName").GetString(), intention.GetProperty("DestinationName").GetString(),
            intention.GetProperty("Action").GetString(), intention.GetProperty("Precedence").GetInt32(),
            intention.GetProperty("Description").GetString(), intention.GetProperty("SourceType").GetString()));

        var entry = await _server.GetJsonAsync("/v1/config/service-intentions/payments");
        Assert.Equal(["orders", "*"], entry.GetProperty("Sources").EnumerateArray().Select(s => s.GetProperty("Name").GetString()));
    }

    [Fact]
    public async Task PutExact_Again_ReplacesTheAction()
    {
        await _server.PutOkAsync("/v1/connect/intentions/exact?source=orders&destination=payments", """{"Action":"allow"}""");
        Assert.True(await AllowedAsync("orders", "payments"));
        await _server.PutOkAsync("/v1/connect/intentions/exact?source=orders&destination=payments", """{"Action":"deny"}""");
        Assert.False(await AllowedAsync("orders", "payments"));
        var entry = await _server.GetJsonAsync("/v1/config/service-intentions/payments");
        Assert.Single(entry.GetProperty("Sources").EnumerateArray());
    }

    [Fact]
    public async Task Check_FollowsPrecedence_AndTheServersDefaultDeny()
    {
        Assert.False(await AllowedAsync("orders", "payments"));
        await _server.PutOkAsync("/v1/connect/intentions/exact?source=*&destination=*", """{"Action":"allow"}""");
        Assert.True(await AllowedAsync("orders", "payments"));
        await _server.PutOkAsync("/v1/connect/intentions/exact?source=orders&destination=*", """{"Action":"deny"}""");
        Assert.False(await AllowedAsync("orders", "payments"));
        Assert.True(await AllowedAsync("billing", "payments"));
        await _server.PutOkAsync("/v1/connect/intentions/exact?source=*&destination=payments", """{"Action":"allow"}""");
        Assert.True(await AllowedAsync("orders", "payments"));
    }

    [Fact]
    public async Task Check_AnL7Intention_IsDenied_AsConsulsL4View()
    {
        await _server.PutOkAsync("/v1/config", """{"Kind":"service-intentions","Name":"api","Sources":[{"Name":"web","Permissions":[{"Action":"allow","HTTP":{"PathPrefix":"/"}}]}]}""");
        Assert.False(await AllowedAsync("web", "api"));
        var listed = Assert.Single((await _server.GetJsonAsync("/v1/connect/intentions")).EnumerateArray());
        Assert.False(listed.TryGetProperty("Action", out _));
        Assert.Equal(1, listed.GetProperty("Permissions").GetArrayLength());
    }

    [Fact]
    public async Task List_IsEveryIntention_HighestPrecedenceFirst()
    {
        await _server.PutOkAsync("/v1/connect/intentions/exact?source=*&destination=*", """{"Action":"deny"}""");
        await _server.PutOkAsync("/v1/connect/intentions/exact?source=orders&destination=payments", """{"Action":"allow"}""");
        await _server.PutOkAsync("/v1/connect/intentions/exact?source=*&destination=payments", """{"Action":"deny"}""");
        var list = (await _server.GetJsonAsync("/v1/connect/intentions")).EnumerateArray()
            .Select(i => $"{i.GetProperty("SourceName").GetString()}->{i.GetProperty("DestinationName").GetString()}:{i.GetProperty("Precedence").GetInt32()}");
        Assert.Equal(["orders->payments:9", "*->payments:8", "*->*:5"], list);
    }

    [Fact]
    public async Task DeleteExact_RemovesTheSource_AndTheEntryWithItsLastSource()
    {
        await _server.PutOkAsync("/v1/connect/intentions/exact?source=orders&destination=payments", """{"Action":"allow"}""");
        await _server.PutOkAsync("/v1/connect/intentions/exact?source=billing&destination=payments", """{"Action":"allow"}""");
        Assert.Equal((HttpStatusCode.OK, "true"), await SendAsync(HttpMethod.Delete, "/v1/connect/intentions/exact?source=orders&destination=payments"));
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, "/v1/connect/intentions/exact?source=orders&destination=payments")).Status);
        Assert.Equal((HttpStatusCode.OK, "true"), await SendAsync(HttpMethod.Delete, "/v1/connect/intentions/exact?source=billing&destination=payments"));
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, "/v1/config/service-intentions/payments")).Status);
        // Deleting what is not there is not an error, as Consul.
        Assert.Equal((HttpStatusCode.OK, "true"), await SendAsync(HttpMethod.Delete, "/v1/connect/intentions/exact?source=billing&destination=payments"));
    }

    [Fact]
    public async Task GetExact_Missing_Is404()
    {
        var (status, body) = await SendAsync(HttpMethod.Get, "/v1/connect/intentions/exact?source=orders&destination=payments");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("Intention not found", body);
    }

    [Theory]
    [InlineData("PUT", "/v1/connect/intentions/exact?destination=payments", """{"Action":"allow"}""", "required query parameter 'source' not set")]
    [InlineData("PUT", "/v1/connect/intentions/exact?source=orders", """{"Action":"allow"}""", "required query parameter 'destination' not set")]
    [InlineData("PUT", "/v1/connect/intentions/exact?source=orders&destination=payments", """{"Action":"permit"}""", "Action \"permit\" must be \"allow\" or \"deny\"")]
    [InlineData("PUT", "/v1/connect/intentions/exact?source=orders&destination=payments", """{}""", "set exactly one of Action")]
    [InlineData("PUT", "/v1/connect/intentions/exact?source=orders&destination=payments", """{"Action":""", "Request decode failed")]
    [InlineData("PUT", "/v1/connect/intentions/exact?source=orders&destination=payments", "", "the body is empty")]
    [InlineData("PUT", "/v1/connect/intentions/exact?source=a/b&destination=payments", """{"Action":"allow"}""", "must be a service name without '/'")]
    [InlineData("PUT", "/v1/connect/intentions/exact?source=orders&destination=payments", """{"Permissions":[{"Action":"deny","HTTP":{"PathRegex":"(x"}}]}""", "is not a valid regular expression")]
    [InlineData("GET", "/v1/connect/intentions/check?source=orders", null, "required query parameter 'destination' not set")]
    [InlineData("DELETE", "/v1/connect/intentions/exact?destination=payments", null, "required query parameter 'source' not set")]
    public async Task BadInput_Is400SayingWhy_AndNothingStoredChanges(string method, string path, string? json, string expected)
    {
        await _server.PutOkAsync("/v1/connect/intentions/exact?source=billing&destination=payments", """{"Action":"allow"}""");
        var before = (await _server.GetWithIndexAsync("/v1/config/service-intentions/payments")).Body.GetRawText();
        var list = (await _server.GetJsonAsync("/v1/connect/intentions")).GetRawText();

        var (status, body) = await SendAsync(new HttpMethod(method), path, json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(expected, body);
        Assert.Equal(before, (await _server.GetWithIndexAsync("/v1/config/service-intentions/payments")).Body.GetRawText());
        Assert.Equal(list, (await _server.GetJsonAsync("/v1/connect/intentions")).GetRawText());
    }

    [Fact]
    public async Task ConfigWrite_OfABadIntentionsEntry_Is400_AndNothingIsStored()
    {
        var (status, body) = await SendAsync(HttpMethod.Put, "/v1/config", """{"Kind":"service-intentions","Name":"payments","Sources":[{"Name":"orders","Action":"allow"},{"Name":"orders","Action":"deny"}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("source \"orders\" is listed more than once", body);
        Assert.Equal("[]", (await _server.GetJsonAsync("/v1/config/service-intentions")).GetRawText());
    }

    [Fact]
    public async Task WithoutTheToken_IntentionsAreRefused()
    {
        using var anonymous = new HttpClient { BaseAddress = _server.Server.HttpAddress };
        using var response = await anonymous.GetAsync("/v1/connect/intentions");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }
}

public sealed class IntentionsDefaultAllowTests
{
    [Fact]
    public async Task Check_WithNoIntention_FollowsDefaultAllow()
    {
        await using var server = await RunningServer.StartAsync(defaultAllow: true);
        var check = await server.GetJsonAsync("/v1/connect/intentions/check?source=orders&destination=payments");
        Assert.True(check.GetProperty("Allowed").GetBoolean());
        await server.PutOkAsync("/v1/connect/intentions/exact?source=orders&destination=payments", """{"Action":"deny"}""");
        Assert.False((await server.GetJsonAsync("/v1/connect/intentions/check?source=orders&destination=payments")).GetProperty("Allowed").GetBoolean());
    }
}
