using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Weft.Tests.Shared;

namespace Weft.EndToEnd.Mesh;

/// <summary>A real Prometheus finds the sidecars through <c>/v1/prometheus/sd</c> alone and reads the golden signals.</summary>
public sealed class PrometheusTests : IAsyncLifetime
{
    private readonly MeshFixture _mesh = new();
    private readonly HttpClient _client = new() { Timeout = TimeSpan.FromSeconds(30) };

    public Task InitializeAsync() => _mesh.StartServerAsync();

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _mesh.DisposeAsync();
    }

    private async Task<HttpStatusCode> CallAsync(Weft.Proxy.Sidecar.SidecarRunner via, string path)
    {
        using var request = MeshFixture.Through(via, "payments", path);
        using var response = await _client.SendAsync(request);
        return response.StatusCode;
    }

    [Fact]
    public async Task Prometheus_DiscoversSidecarsThroughSd_AndReadsRequestRateAndSuccessRate()
    {
        var payments = await _mesh.StartAppAsync("payments-app", http =>
            Task.FromResult(http.Request.Path == "/fail" ? Results.StatusCode(500) : Results.Text("ok")));
        var paymentsSidecar = await _mesh.StartSidecarAsync("payments", "payments-1", payments.Port);
        var web = await _mesh.StartSidecarAsync("web", "web-1", appPort: 1);
        var warmups = 0;
        await MeshFixture.WaitUntilAsync(async () =>
        {
            if (await CallAsync(web, "/warmup") != HttpStatusCode.OK)
                return false;
            warmups++;
            return true;
        }, "web reaches payments");

        using var sd = JsonDocument.Parse(await _mesh.Api.GetStringAsync("/v1/prometheus/sd"));
        var targets = sd.RootElement.EnumerateArray().ToDictionary(
            g => g.GetProperty("labels").GetProperty("instance").GetString()!, g => g.GetProperty("targets")[0].GetString());
        Assert.Equal(paymentsSidecar.Host.AdminAddress.ToString(), targets["payments-1"]);
        Assert.Equal(web.Host.AdminAddress.ToString(), targets["web-1"]);

        await using var prometheus = await PrometheusProcess.StartAsync(new Uri(_mesh.ServerAddress, "/v1/prometheus/sd"));
        await prometheus.WaitUntilAsync(async () => await prometheus.QueryAsync("sum(up{job=\"weft\"})") == 2, "prometheus scrapes both sidecars");

        // Traffic, one request in four failing, until Prometheus sees a rate (bounded in count and time).
        const string inbound = "weft_proxy_requests_total{service=\"payments\",direction=\"inbound\"}";
        const string succeeded = "weft_proxy_requests_total{service=\"payments\",direction=\"inbound\",code!~\"5..\"}";
        int sent = 0, ok = 0;
        double? rate = null, success = null;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        // (The count bound is loose: sent one after another, requests now take well under a millisecond, and 6,000 of
        // them could end before two 1 s scrapes had seen the 500s' series.)
        while (sent < 60_000 && DateTime.UtcNow < until)
        {
            for (var i = 0; i < 20; i++, sent++)
            {
                var status = await CallAsync(web, sent % 4 == 3 ? "/fail" : "/pay");
                if (status == HttpStatusCode.OK) ok++;
            }

            rate = await prometheus.QueryAsync($"sum(rate({inbound}[5s]))");
            success = await prometheus.QueryAsync($"sum(rate({succeeded}[5s])) / sum(rate({inbound}[5s]))");
            // A series first seen (the 500s) needs two scrapes before rate() sees it: wait for it with the loop's deadline.
            if (rate > 0 && success is > 0.6 and < 0.9)
                break;
        }

        Assert.True(rate > 0, $"request rate of payments: {rate}");
        Assert.InRange(success!.Value, 0.6, 0.9);
        Assert.Equal(sent * 3 / 4, ok);

        // Once traffic stops, the sidecar's own count is exactly what was sent, and Prometheus converges to it.
        var own = PromText.Parse(await _client.GetStringAsync($"http://{paymentsSidecar.Host.AdminAddress}/metrics"));
        Assert.Equal(sent + warmups, own.Find("weft_proxy_requests_total", ("direction", "inbound")).Sum(s => s.Value));
        Assert.Equal(sent - ok, own.Value("weft_proxy_requests_total", ("direction", "inbound"), ("code", "500")));
        await prometheus.WaitUntilAsync(async () => await prometheus.QueryAsync($"sum({inbound})") == sent + warmups, $"prometheus counts {sent + warmups} requests");
        Assert.Equal(sent + warmups - (sent - ok), await prometheus.QueryAsync($"sum({succeeded})"));
        // web's sidecar is another target, scraped at its own moment: its count of what payments answered converges to
        // the same number (warm-up calls web's sidecar answered itself, before it knew payments, are 503s).
        const string outbound = "sum(weft_proxy_requests_total{service=\"web\",direction=\"outbound\",peer_service=\"payments\",code=~\"200|500\"})";
        await prometheus.WaitUntilAsync(async () => await prometheus.QueryAsync(outbound) == sent + warmups, $"prometheus counts {sent + warmups} requests from web");

        // Every endpoint of a running mesh passes promtool; the server sees both streams and has pushed to them.
        await PromText.AssertPromtoolAcceptsAsync(await _client.GetStringAsync($"http://{web.Host.AdminAddress}/metrics"));
        await PromText.AssertPromtoolAcceptsAsync(await _client.GetStringAsync($"http://{paymentsSidecar.Host.AdminAddress}/metrics"));
        await PromText.AssertPromtoolAcceptsAsync(await _mesh.Api.GetStringAsync("/v1/agent/metrics?format=prometheus"));
        var server = PromText.Parse(await _mesh.Api.GetStringAsync("/metrics"));
        Assert.Equal(2, server.Value("weft_server_streams_open"));
        Assert.True(server.Value("weft_server_stream_push_duration_seconds_count") >= 2, "each stream got at least its snapshot");
        Assert.Equal(server.Value("weft_server_stream_pushes_total"), server.Value("weft_server_stream_push_duration_seconds_count"));
    }
}
