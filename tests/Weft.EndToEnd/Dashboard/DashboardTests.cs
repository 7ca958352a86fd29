using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using Weft.EndToEnd.Mesh;
using Weft.Server.Hosting;
using static Microsoft.Playwright.Assertions;

namespace Weft.EndToEnd.Dashboard;

/// <summary>The dashboard at /ui in headless Chromium, over a real server, real sidecars and real apps.</summary>
public sealed class DashboardTests
{
    private static readonly LocatorAssertionsToHaveAttributeOptions Within30s = new() { Timeout = 30_000 };

    [Fact]
    public async Task Dashboard_ShowsServicesAndTraffic_TurnsAKilledInstanceRed_AndGreenWhenItReturns()
    {
        await using var mesh = new MeshFixture();
        await mesh.StartServerAsync();
        var check = TimeSpan.FromSeconds(1);
        var web = await mesh.StartAppAsync("web");
        var orders1 = await mesh.StartAppAsync("orders-1");
        var orders2 = await mesh.StartAppAsync("orders-2");
        var webSidecar = await mesh.StartSidecarAsync("web", "web-1", web.Port, checkInterval: check);
        await mesh.StartSidecarAsync("orders", "orders-1", orders1.Port, checkInterval: check);
        await mesh.StartSidecarAsync("orders", "orders-2", orders2.Port, checkInterval: check);
        await mesh.PutAsync("/v1/config", """{"Kind":"service-defaults","Name":"orders","Protocol":"http"}""");

        // web calls orders through its sidecar until the test ends: at most 3 minutes and 20,000 requests.
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var traffic = Task.Run(async () =>
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            for (var i = 0; i < 20_000 && !stop.IsCancellationRequested; i++)
            {
                try
                {
                    using var response = await client.SendAsync(MeshFixture.Through(webSidecar, "orders"), stop.Token);
                    await Task.Delay(20, stop.Token);
                }
                catch (Exception) when (!stop.IsCancellationRequested)
                {
                    // An instance on its way down; keep calling.
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        });

        try
        {
            await using var browser = await Browser.LaunchAsync();
            var page = await browser.Chromium.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 900 } });
            await page.GotoAsync(new Uri(mesh.ServerAddress, "/ui").ToString());

            var orders = page.GetByTestId("service-row-orders");
            await Expect(orders).ToBeVisibleAsync(new() { Timeout = 15_000 });
            await Expect(page.GetByTestId("service-row-web")).ToBeVisibleAsync();
            await Expect(orders.GetByTestId("service-instances")).ToHaveTextAsync("2");
            await Expect(page.GetByTestId("token-prompt")).ToBeHiddenAsync();

            // Traffic shows once a 5 s slot with reports in it has closed.
            await Expect(orders.GetByTestId("service-rps")).ToHaveTextAsync(new Regex(@"^(?!0\.00$)\d"), new() { Timeout = 30_000 });
            await Expect(orders.GetByTestId("service-success")).ToHaveTextAsync("100%");
            await Expect(page.GetByTestId("topology-edge-web-orders")).ToBeVisibleAsync(new() { Timeout = 15_000 });
            await Expect(page.GetByTestId("config-row-service-defaults-orders")).ToBeVisibleAsync(new() { Timeout = 15_000 });

            await orders.ClickAsync();
            await Expect(page.GetByTestId("detail-name")).ToHaveTextAsync("orders");
            await Expect(page.GetByTestId("chart-rps")).ToHaveAttributeAsync("d", new Regex("^M"), Within30s);
            var instance2 = page.GetByTestId("instance-row-orders-2");
            await Expect(instance2).ToHaveAttributeAsync("data-health", "passing", Within30s);
            await Expect(orders).ToHaveAttributeAsync("data-health", "passing", Within30s);
            await Browser.ScreenshotAsync(page, "dashboard-traffic");

            await orders2.KillAsync();
            await Expect(instance2).ToHaveAttributeAsync("data-health", "critical", Within30s);
            await Expect(orders).ToHaveAttributeAsync("data-health", "critical", Within30s);
            await Expect(instance2.Locator("[data-status=critical]")).Not.ToHaveCountAsync(0);
            await Browser.ScreenshotAsync(page, "dashboard-instance-down");

            await mesh.StartAppAsync("orders-2", port: orders2.Port);
            await Expect(instance2).ToHaveAttributeAsync("data-health", "passing", Within30s);
            await Expect(orders).ToHaveAttributeAsync("data-health", "passing", Within30s);
            await Browser.ScreenshotAsync(page, "dashboard-instance-back");
        }
        finally
        {
            await stop.CancelAsync();
            await traffic;
        }
    }

    [Fact]
    public async Task TokenProtectedServer_AsksForAToken_RefusesAWrongOne_AndShowsTheMeshWithTheRightOne()
    {
        const string token = "dashboard-test-token-0123456789";
        var dataDir = Directory.CreateTempSubdirectory("weft-ui-").FullName;
        var server = await WeftServer.StartAsync(new ServerOptions
        {
            DataDir = dataDir,
            HttpEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            GrpcEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            NodeName = "ui-node",
            AclToken = token,
            LogLevel = LogLevel.Warning,
        });
        try
        {
            using var api = new HttpClient { BaseAddress = server.HttpAddress };
            api.DefaultRequestHeaders.Add("X-Consul-Token", token);
            async Task Put(string path, string json)
            {
                using var response = await api.PutAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
                Assert.True(response.IsSuccessStatusCode, $"PUT {path}: {await response.Content.ReadAsStringAsync()}");
            }

            await Put("/v1/agent/service/register", """{"ID":"billing-1","Name":"billing","Port":9000,"Check":{"TTL":"1h","Status":"critical","Notes":"waiting"}}""");
            await Put("/v1/connect/intentions/exact?source=web&destination=billing", """{"Action":"deny"}""");

            await using var browser = await Browser.LaunchAsync();
            var page = await browser.Chromium.NewPageAsync();
            await page.GotoAsync(new Uri(server.HttpAddress, "/ui/").ToString());

            await Expect(page.GetByTestId("token-prompt")).ToBeVisibleAsync(new() { Timeout = 15_000 });
            await Expect(page.GetByTestId("service-row-billing")).ToHaveCountAsync(0);
            await Browser.ScreenshotAsync(page, "dashboard-token-prompt");

            await page.GetByTestId("token-input").FillAsync("not-the-token");
            await page.GetByTestId("token-submit").ClickAsync();
            await Expect(page.GetByTestId("token-error")).ToContainTextAsync("ACL not found", new() { Timeout = 15_000 });

            await page.GetByTestId("token-input").FillAsync(token);
            await page.GetByTestId("token-submit").ClickAsync();
            var billing = page.GetByTestId("service-row-billing");
            await Expect(billing).ToHaveAttributeAsync("data-health", "critical", Within30s);
            await Expect(page.GetByTestId("intention-row-web-billing")).ToContainTextAsync("deny", new() { Timeout = 15_000 });

            await billing.ClickAsync();
            await Expect(page.GetByTestId("instance-row-billing-1")).ToHaveAttributeAsync("data-health", "critical", Within30s);
            await Browser.ScreenshotAsync(page, "dashboard-token-accepted");

            // The token stays for the tab: a reload does not ask again.
            await page.ReloadAsync();
            await Expect(page.GetByTestId("service-row-billing")).ToBeVisibleAsync(new() { Timeout = 15_000 });
            await Expect(page.GetByTestId("token-prompt")).ToBeHiddenAsync();
        }
        finally
        {
            await server.DisposeAsync();
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
