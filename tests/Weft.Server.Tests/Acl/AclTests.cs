using System.Net;
using Weft.Server.Acl;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Acl;

public sealed class AclTests
{
    [Fact]
    public async Task MissingToken_IsPermissionDenied_WrongTokenIsAclNotFound()
    {
        await using var server = await RunningServer.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = server.Server.HttpAddress };

        using var missing = await anonymous.GetAsync("/v1/catalog/services");
        Assert.Equal(HttpStatusCode.Forbidden, missing.StatusCode);
        Assert.Equal("Permission denied", await missing.Content.ReadAsStringAsync());

        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/v1/catalog/services");
        wrong.Headers.Add("X-Consul-Token", "not-the-token");
        using var wrongResponse = await anonymous.SendAsync(wrong);
        Assert.Equal(HttpStatusCode.Forbidden, wrongResponse.StatusCode);
        Assert.Equal("ACL not found", await wrongResponse.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Token_IsAcceptedAsHeaderQueryOrBearer_AndRefusedWritesChangeNothing()
    {
        await using var server = await RunningServer.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = server.Server.HttpAddress };

        using var refused = await anonymous.PutAsync("/v1/agent/service/register", new StringContent("""{"Name":"sneaky"}"""));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);

        using var viaQuery = await anonymous.GetAsync($"/v1/agent/services?token={RunningServer.Token}");
        Assert.Equal(HttpStatusCode.OK, viaQuery.StatusCode);
        Assert.Equal("{}", await viaQuery.Content.ReadAsStringAsync());

        using var bearer = new HttpRequestMessage(HttpMethod.Get, "/v1/agent/services");
        bearer.Headers.Authorization = new("Bearer", RunningServer.Token);
        using var viaBearer = await anonymous.SendAsync(bearer);
        Assert.Equal(HttpStatusCode.OK, viaBearer.StatusCode);
    }

    [Fact]
    public async Task DevOpen_NeedsNoToken()
    {
        await using var server = await RunningServer.StartAsync(open: true);
        using var anonymous = new HttpClient { BaseAddress = server.Server.HttpAddress };
        using var response = await anonymous.PutAsync("/v1/agent/service/register", new StringContent("""{"Name":"open"}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public void GeneratedToken_IsWrittenOwnerOnly_AndReusedOnNextStart()
    {
        var dir = Directory.CreateTempSubdirectory("weft-acl-").FullName;
        try
        {
            var (token, source) = AclToken.Resolve(null, null, dir);
            var path = Path.Combine(dir, AclToken.FileName);
            Assert.Contains(path, source);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(token, File.ReadAllText(path).Trim());
            Assert.Equal(token, AclToken.Resolve(null, null, dir).Token);

            Assert.Equal("from-env", AclToken.Resolve(null, "from-env", dir).Token);
            var file = Path.Combine(dir, "my-token");
            File.WriteAllText(file, "from-file\n");
            Assert.Equal("from-file", AclToken.Resolve(file, "from-env", dir).Token);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
