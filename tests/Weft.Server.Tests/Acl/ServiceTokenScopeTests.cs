using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Weft.Core.Identity;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Acl;

/// <summary>
/// Where the service tokens meet the CA and the intentions: an <c>orders</c> token obtains a certificate for
/// <c>orders</c> only, and cannot change who may call whom.
/// </summary>
public sealed class ServiceTokenScopeTests : IAsyncLifetime
{
    private RunningServer _server = null!;
    private HttpClient _orders = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        using var response = await _server.PutAsync("/v1/acl/token", """{"ServiceIdentities":[{"ServiceName":"orders"}]}""");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        _orders = new HttpClient { BaseAddress = _server.Server.HttpAddress };
        _orders.DefaultRequestHeaders.Add("X-Consul-Token", JsonDocument.Parse(body).RootElement.GetProperty("SecretID").GetString());
    }

    public async Task DisposeAsync()
    {
        _orders.Dispose();
        await _server.DisposeAsync();
    }

    private static string Csr(string service)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={service}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(SpiffeId.ForService("weft.local", service).ToUri());
        request.CertificateExtensions.Add(san.Build());
        return JsonSerializer.Serialize(new { CSR = request.CreateSigningRequestPem() });
    }

    private Task<HttpResponseMessage> SignAsync(string service) =>
        _orders.PutAsync("/v1/connect/ca/sign", new StringContent(Csr(service), Encoding.UTF8, "application/json"));

    [Fact]
    public async Task AnOrdersToken_GetsACertificateForOrders_ButNotForPayments()
    {
        using (var own = await SignAsync("orders"))
        {
            var body = await own.Content.ReadAsStringAsync();
            Assert.True(own.StatusCode == HttpStatusCode.OK, body);
            Assert.Equal("spiffe://weft.local/ns/default/svc/orders", JsonDocument.Parse(body).RootElement.GetProperty("ServiceURI").GetString());
        }

        using var other = await SignAsync("payments");
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        Assert.StartsWith("Permission denied", await other.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AnOrdersToken_CannotWriteIntentions_AndNothingChanges()
    {
        await _server.PutOkAsync("/v1/connect/intentions/exact?source=web&destination=orders", """{"Action":"deny"}""");

        using (var put = await _orders.PutAsync("/v1/connect/intentions/exact?source=orders&destination=payments",
                   new StringContent("""{"Action":"allow"}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, put.StatusCode);
            Assert.Contains("intentions:write", await put.Content.ReadAsStringAsync());
        }
        using (var delete = await _orders.DeleteAsync("/v1/connect/intentions/exact?source=web&destination=orders"))
            Assert.Equal(HttpStatusCode.Forbidden, delete.StatusCode);

        var list = await _server.GetJsonAsync("/v1/connect/intentions");
        var only = Assert.Single(list.EnumerateArray());
        Assert.Equal("web", only.GetProperty("SourceName").GetString());
        Assert.Equal("deny", only.GetProperty("Action").GetString());

        // Reading is allowed, as for every service token.
        using var check = await _orders.GetAsync("/v1/connect/intentions/check?source=web&destination=orders");
        Assert.Equal(HttpStatusCode.OK, check.StatusCode);
    }

    [Fact]
    public async Task AnOrdersToken_CannotRotateTheCa_OrReadOrDeleteOtherTokens_AndNothingChanges()
    {
        var roots = (await _server.GetJsonAsync("/v1/connect/ca/roots")).GetRawText();
        using var created = await _server.PutAsync("/v1/acl/token", """{"ServiceIdentities":[{"ServiceName":"payments"}]}""");
        var payments = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("AccessorID").GetString()!;
        var tokensBefore = (await _server.GetJsonAsync("/v1/acl/tokens")).GetArrayLength();

        foreach (var body in new[] { """{"Provider":"weft","Config":{"RotateRoot":true}}""", """{"Config":{"RotateRoot":true},"ForceWithoutCrossSigning":true}""" })
        {
            using var rotate = await _orders.PutAsync("/v1/connect/ca/configuration", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Forbidden, rotate.StatusCode);
            Assert.StartsWith("Permission denied", await rotate.Content.ReadAsStringAsync());
        }

        foreach (var accessor in new[] { payments, "00000000-0000-0000-0000-000000000001" })
        {
            using var read = await _orders.GetAsync("/v1/acl/token/" + accessor);
            Assert.Equal(HttpStatusCode.Forbidden, read.StatusCode);
            Assert.DoesNotContain("SecretID", await read.Content.ReadAsStringAsync());
        }

        using (var delete = await _orders.DeleteAsync("/v1/acl/token/" + payments))
            Assert.Equal(HttpStatusCode.Forbidden, delete.StatusCode);
        using (var remove = await _orders.DeleteAsync("/v1/connect/intentions/exact?source=orders&destination=payments"))
            Assert.Equal(HttpStatusCode.Forbidden, remove.StatusCode);

        // Its own token it may read, and sees it is scoped to orders.
        var self = JsonDocument.Parse(await _orders.GetStringAsync("/v1/acl/token/self")).RootElement;
        Assert.Equal("orders", self.GetProperty("ServiceIdentities")[0].GetProperty("ServiceName").GetString());

        Assert.Equal(roots, (await _server.GetJsonAsync("/v1/connect/ca/roots")).GetRawText());
        Assert.Equal(tokensBefore, (await _server.GetJsonAsync("/v1/acl/tokens")).GetArrayLength());
        using var stillThere = await _server.Http.GetAsync("/v1/acl/token/" + payments);
        Assert.Equal(HttpStatusCode.OK, stillThere.StatusCode);
    }
}
