using System.Net;
using System.Text.Json;
using Weft.Proxy.Sidecar;

namespace Weft.EndToEnd.Mesh;

/// <summary>Intentions as a user meets them: a real control plane, sidecars beside apps, calls through them.</summary>
public sealed class IntentionMeshTests : IAsyncLifetime
{
    private readonly HttpClient _client = new() { Timeout = TimeSpan.FromSeconds(30) };
    private MeshFixture? _mesh;

    /// <summary>The one control plane of this test, with the default it is about.</summary>
    private async Task<MeshFixture> MeshAsync(bool defaultAllow)
    {
        _mesh = new MeshFixture(defaultAllow);
        await _mesh.StartServerAsync();
        return _mesh;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _client.Dispose();
        if (_mesh is not null)
            await _mesh.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, string Body, string? Error)> CallAsync(SidecarRunner via, string upstream, string path = "/")
    {
        using var request = MeshFixture.Through(via, upstream, path);
        using var response = await _client.SendAsync(request);
        var error = response.Headers.TryGetValues("x-weft-error", out var values) ? values.Single() : null;
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), error);
    }

    private async Task<JsonElement> AdminAsync(SidecarRunner sidecar, string path) =>
        JsonDocument.Parse(await _client.GetStringAsync($"http://{sidecar.Host.AdminAddress}{path}")).RootElement.Clone();

    [Fact]
    public async Task DefaultDenyServer_CallIs403IntentionDenied_AndCounted_UntilAnIntentionAllowsIt()
    {
        var mesh = await MeshAsync(defaultAllow: false);
        var payments = await mesh.StartAppAsync("payments-app");
        var paymentsSidecar = await mesh.StartSidecarAsync("payments", "payments-1", payments.Port);
        var web = await mesh.StartSidecarAsync("web", "web-1", appPort: 1);

        // Denied by the payments sidecar (not "unknown upstream" from web's): web's sidecar knows the endpoint.
        await MeshFixture.WaitUntilAsync(async () => (await CallAsync(web, "payments")).Error == "intention-denied", "web's call reaches payments' sidecar and is denied");
        var (status, body, _) = await CallAsync(web, "payments", "/charge");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        // The payments sidecar names the caller from its mTLS client certificate.
        Assert.Contains("intention-denied: web -> payments", body);
        Assert.Equal(0, payments.Hits);
        Assert.True((await AdminAsync(paymentsSidecar, "/stats")).GetProperty("IntentionDenials").GetInt64() >= 2);
        Assert.False((await AdminAsync(paymentsSidecar, "/config")).GetProperty("IntentionsDefaultAllow").GetBoolean());

        // An intention for another caller lets web no further; one naming web does.
        var orders = await mesh.StartSidecarAsync("orders", "orders-1", appPort: 1);
        await mesh.PutAsync("/v1/connect/intentions/exact?source=orders&destination=payments", """{"Action":"allow"}""");
        await MeshFixture.WaitUntilAsync(async () => (await CallAsync(orders, "payments")).Status == HttpStatusCode.OK, "orders' intention reaches payments' sidecar");
        Assert.Equal("intention-denied", (await CallAsync(web, "payments")).Error);

        await mesh.PutAsync("/v1/connect/intentions/exact?source=web&destination=payments", """{"Action":"allow"}""");
        await MeshFixture.WaitUntilAsync(async () => (await CallAsync(web, "payments")).Status == HttpStatusCode.OK, "web's intention reaches payments' sidecar");
        Assert.Equal("payments-app", (await CallAsync(web, "payments")).Body);
    }

    [Fact]
    public async Task L7Intention_DenyingAPathPrefix_Is403_WhileOtherPathsPass()
    {
        var mesh = await MeshAsync(defaultAllow: false);
        var payments = await mesh.StartAppAsync("ledger-app");
        await mesh.StartSidecarAsync("ledger", "ledger-1", payments.Port);
        var web = await mesh.StartSidecarAsync("shop", "shop-1", appPort: 1);
        await mesh.PutAsync("/v1/config", """
            {"Kind":"service-intentions","Name":"ledger","Sources":[{"Name":"*","Permissions":[
              {"Action":"deny","HTTP":{"PathPrefix":"/admin"}},
              {"Action":"allow","HTTP":{"PathPrefix":"/"}}]}]}
            """);

        await MeshFixture.WaitUntilAsync(async () => (await CallAsync(web, "ledger", "/entries")).Status == HttpStatusCode.OK, "shop reaches ledger's /entries");
        var (status, body, error) = await CallAsync(web, "ledger", "/admin/reset");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("intention-denied", error);
        Assert.Contains("Permissions[0] denies GET /admin/reset", body);
    }

    [Fact]
    public async Task DefaultAllowServer_ItsDefaultReachesTheSidecarOverTheStream()
    {
        var mesh = await MeshAsync(defaultAllow: true);
        var payments = await mesh.StartAppAsync("payments-app");
        var paymentsSidecar = await mesh.StartSidecarAsync("payments", "payments-1", payments.Port);
        var web = await mesh.StartSidecarAsync("web", "web-1", appPort: 1);

        // A sidecar denies until told otherwise: a 200 with no intention written is the server's default arriving.
        await MeshFixture.WaitUntilAsync(async () => (await CallAsync(web, "payments")).Status == HttpStatusCode.OK, "web reaches payments with no intention");
        Assert.True((await AdminAsync(paymentsSidecar, "/config")).GetProperty("IntentionsDefaultAllow").GetBoolean());

        await mesh.PutAsync("/v1/connect/intentions/exact?source=*&destination=payments", """{"Action":"deny"}""");
        await MeshFixture.WaitUntilAsync(async () => (await CallAsync(web, "payments")).Error == "intention-denied", "the deny reaches payments' sidecar");
    }
}
