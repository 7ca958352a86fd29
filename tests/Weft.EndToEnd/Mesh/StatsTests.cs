using System.Net.Http.Json;
using System.Text.Json;

namespace Weft.EndToEnd.Mesh;

/// <summary>Real sidecars report over their streams; the server's /v1/weft/stats reads back what was sent through them.</summary>
public sealed class StatsTests
{
    [Fact]
    public async Task TrafficThroughSidecars_ShowsAsRates_SuccessRate_Latency_AndAnEdge()
    {
        await using var mesh = new MeshFixture();
        await mesh.StartServerAsync();
        var web = await mesh.StartAppAsync("web");
        var orders = await mesh.StartAppAsync("orders");
        var webSidecar = await mesh.StartSidecarAsync("web", "web-1", web.Port);
        await mesh.StartSidecarAsync("orders", "orders-1", orders.Port);
        await mesh.PutAsync("/v1/config", """{"Kind":"service-defaults","Name":"orders","Protocol":"http"}""");

        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await MeshFixture.WaitUntilAsync(async () =>
        {
            using var response = await client.SendAsync(MeshFixture.Through(webSidecar, "orders"));
            return response.IsSuccessStatusCode;
        }, "web's sidecar reaches orders");

        // 200 requests, then read until a closed 5 s slot holds them.
        for (var i = 0; i < 200; i++)
        {
            using var response = await client.SendAsync(MeshFixture.Through(webSidecar, "orders"));
            Assert.True(response.IsSuccessStatusCode);
        }

        JsonElement detail = default;
        await MeshFixture.WaitUntilAsync(async () =>
        {
            detail = await mesh.Api.GetFromJsonAsync<JsonElement>("/v1/weft/stats/orders?window=60s");
            return detail.GetProperty("RequestsPerSecond").GetDouble() * 60 >= 200;
        }, "orders' own sidecar reports the 200 requests", TimeSpan.FromSeconds(30));

        Assert.Equal(1.0, detail.GetProperty("SuccessRate").GetDouble());
        Assert.InRange(detail.GetProperty("P50Seconds").GetDouble(), 0, 1);
        Assert.True(detail.GetProperty("P99Seconds").GetDouble() >= detail.GetProperty("P50Seconds").GetDouble());
        Assert.Equal(1, detail.GetProperty("Instances").GetInt32());

        await MeshFixture.WaitUntilAsync(async () =>
        {
            detail = await mesh.Api.GetFromJsonAsync<JsonElement>("/v1/weft/stats/orders?window=60s");
            return detail.GetProperty("Callers").EnumerateArray().Any(e => e.GetProperty("Source").GetString() == "web");
        }, "web shows as a caller of orders", TimeSpan.FromSeconds(30));

        var all = await mesh.Api.GetFromJsonAsync<JsonElement>("/v1/weft/stats");
        var edge = all.GetProperty("Edges").EnumerateArray().Single(e => e.GetProperty("Source").GetString() == "web");
        Assert.Equal("orders", edge.GetProperty("Destination").GetString());
        Assert.True(edge.GetProperty("RequestsPerSecond").GetDouble() > 0);

        var proxies = await mesh.Api.GetFromJsonAsync<JsonElement>("/v1/weft/proxies");
        foreach (var proxy in proxies.EnumerateArray())
        {
            Assert.False(string.IsNullOrEmpty(proxy.GetProperty("Version").GetString()));
            Assert.True(proxy.GetProperty("ConfigVersion").GetUInt64() > 0);
            Assert.NotEqual(JsonValueKind.Null, proxy.GetProperty("CertificateNotAfter").ValueKind);
        }
    }
}
