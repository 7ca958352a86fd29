using System.Net;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Api;

/// <summary>Every malformed request gets a 4xx that says what is wrong, and changes nothing.</summary>
public sealed class BadInputTests : IAsyncLifetime
{
    private RunningServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        await _server.PutOkAsync("/v1/agent/service/register", """{"ID":"keep","Name":"web","Port":80,"Check":{"TTL":"1m","Status":"passing"}}""");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public static TheoryData<string, string, int, string> Cases() => new()
    {
        { "/v1/agent/service/register", "{\"Name\":", 400, "Request decode failed" },
        { "/v1/agent/service/register", "not json", 400, "Request decode failed" },
        { "/v1/agent/service/register", "", 400, "body is empty" },
        { "/v1/agent/service/register", "[1,2]", 400, "Request decode failed" },
        { "/v1/agent/service/register", "null", 400, "JSON null" },
        { "/v1/agent/service/register", """{"Name":"web","Port":"eighty"}""", 400, "$.Port (expected a number)" },
        { "/v1/agent/service/register", """{"Name":"web","Tags":"a"}""", 400, "$.Tags (expected an array)" },
        { "/v1/agent/service/register", """{"Name":"web","Meta":{"k":1}}""", 400, "$.Meta.k" },
        { "/v1/agent/service/register", """{"Name":"web","EnableTagOverride":"yes"}""", 400, "(expected true or false)" },
        { "/v1/agent/service/register", """{"Name":"web","Port":0}""", 400, "Invalid Port 0" },
        { "/v1/agent/service/register", """{"Name":"web","Port":65536}""", 400, "Invalid Port 65536" },
        { "/v1/agent/service/register", """{"Name":"web","Port":-1}""", 400, "Invalid Port -1" },
        { "/v1/agent/service/register", """{"Name":""}""", 400, "Missing service name" },
        { "/v1/agent/service/register", """{"Port":80}""", 400, "Missing service name" },
        { "/v1/agent/service/register", """{"Name":"web","Meta":{"bad key":"v"}}""", 400, "Invalid Meta" },
        { "/v1/agent/service/register", """{"Name":"web","Check":{"Interval":"10s"}}""", 400, "Invalid check" },
        { "/v1/agent/service/register", """{"Name":"web","Check":{"DockerContainerID":"abc","Interval":"10s"}}""", 400, "Docker checks are not supported" },
        { "/v1/agent/service/register", """{"Name":"web","Check":{"HTTP":"http://x/","TCP":"x:1","Interval":"10s"}}""", 400, "exactly one of" },
        { "/v1/agent/service/register", """{"Name":"web","Check":{"HTTP":"http://x/"}}""", 400, "Interval must be > 0" },
        { "/v1/agent/service/register", """{"Name":"web","Check":{"HTTP":"not a url","Interval":"10s"}}""", 400, "absolute http" },
        { "/v1/agent/service/register", """{"Name":"web","Check":{"TCP":"nohost","Interval":"10s"}}""", 400, "host:port" },
        { "/v1/agent/service/register", """{"Name":"web","Check":{"TTL":"soon"}}""", 400, "invalid duration" },
        { "/v1/agent/service/register", """{"Name":"web","Check":{"TTL":"10s","Status":"fine"}}""", 400, "Invalid check status" },
        { "/v1/agent/service/register", """{"Name":"web","Check":{"Args":["/bin/true"],"Interval":"10s"}}""", 400, "--enable-script-checks" },
        { "/v1/agent/check/register", """{"TTL":"10s"}""", 400, "Missing check name" },
        { "/v1/agent/check/update/service:keep", """{"Status":"meh"}""", 400, "Invalid check status" },
        { "/v1/catalog/register", """{"Address":"10.0.0.1"}""", 400, "Missing node name" },
        { "/v1/catalog/register", """{"Node":"n"}""", 400, "Must provide address" },
        { "/v1/catalog/register", """{"Node":"n","Address":"1.2.3.4","Service":{"Port":80}}""", 400, "Missing service name" },
        { "/v1/catalog/register", """{"Node":"n","Address":"1.2.3.4","Check":{"CheckID":"c","ServiceID":"ghost"}}""", 400, "unknown service ID" },
        { "/v1/catalog/deregister", """{}""", 400, "Missing node name" },
        { "/v1/agent/service/deregister/nope", "", 404, "Unknown service ID" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task MalformedRequest_Gets4xxWithReason_AndChangesNothing(string path, string body, int status, string message)
    {
        var before = await _server.CatalogSnapshotAsync();
        using var response = await _server.PutAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Contains(message, text);
        Assert.Equal(before, await _server.CatalogSnapshotAsync());
    }

    [Fact]
    public async Task BodyOverOneMebibyte_Is413_AndServerKeepsServing()
    {
        var before = await _server.CatalogSnapshotAsync();
        var huge = "{\"Name\":\"web\",\"Meta\":{\"k\":\"" + new string('a', 1024 * 1024) + "\"}}";
        // Expect: 100-continue, as curl sends for large bodies: the server refuses before the upload, so the
        // client never races a connection the server has closed mid-upload.
        using var request = new HttpRequestMessage(HttpMethod.Put, "/v1/agent/service/register")
        {
            Content = new StringContent(huge, System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.ExpectContinue = true;
        using var response = await _server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("1 MiB", await response.Content.ReadAsStringAsync());
        Assert.Equal(before, await _server.CatalogSnapshotAsync());
    }

    [Fact]
    public async Task UnknownPathAndWrongMethod_SayWhatIsWrong()
    {
        using var unknown = await _server.Http.GetAsync("/v1/agent/teleport");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("/v1/agent/teleport", await unknown.Content.ReadAsStringAsync());

        using var wrongMethod = await _server.Http.DeleteAsync("/v1/agent/services");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
        Assert.Contains("DELETE", await wrongMethod.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/v1/config")]
    [InlineData("/v1/acl/token")]
    public async Task PostToAPutEndpoint_Is405_NotASilentGrpc200(string path)
    {
        // Found by the fuzz run: gRPC's catch-all for unknown services took two-segment POSTs and answered 200.
        using var response = await _server.Http.PostAsync(path, new StringContent("""{"Kind":"service-defaults","Name":"web"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Contains("POST", await response.Content.ReadAsStringAsync());
        using var entry = await _server.Http.GetAsync("/v1/config/service-defaults/web");
        Assert.Equal(HttpStatusCode.NotFound, entry.StatusCode);
    }

    [Fact]
    public async Task AGroupOfWrites_WithOneBad_CommitsTheGoodOnes()
    {
        // Sent together so the writer sees them in one group commit; the bad one must not take the others down.
        var writes = Enumerable.Range(0, 20).Select(i => _server.PutAsync("/v1/agent/service/register",
            i == 7 ? """{"Name":"x","Check":{"CheckID":"c","TTL":"1s"},"Checks":[{"CheckID":"c","TTL":"1s"}]}""" : $$"""{"ID":"g{{i}}","Name":"group"}""")).ToList();
        var responses = await Task.WhenAll(writes);
        Assert.Equal(19, responses.Count(r => r.IsSuccessStatusCode));
        Assert.Equal(HttpStatusCode.BadRequest, responses[7].StatusCode);
        Assert.Equal(19, (await _server.GetJsonAsync("/v1/catalog/service/group")).GetArrayLength());
        foreach (var r in responses) r.Dispose();
    }
}
