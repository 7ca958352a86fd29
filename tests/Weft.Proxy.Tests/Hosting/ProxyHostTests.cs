using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Proxy.Hosting;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Hosting;

public sealed class ProxyHostTests
{
    [Fact]
    public async Task StopAsync_InFlightRequestCompletes_AndNewConnectionsAreRefused()
    {
        await using var slow = await Backend.StartGatedAsync();
        var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp);
        proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("slow", [Mesh.Endpoint("s", slow.Address)])]));
        var outbound = proxy.OutboundAddress;
        using var client = Mesh.Client(outbound, "slow");

        var inFlight = client.GetAsync("/");
        await slow.Entered;
        var stopping = proxy.StopAsync(TimeSpan.FromSeconds(30));
        await WaitUntilRefusedAsync(outbound);
        slow.Release();
        var response = await inFlight.WaitAsync(TimeSpan.FromSeconds(10));
        await stopping.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("finished", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task StartAsync_BindsEveryListener_AndReportsTheChosenPorts()
    {
        await using var proxy = await Mesh.ProxyAsync("frontend", Mesh.NoApp, "orders", "redis");

        var ports = new[] { proxy.InboundAddress.Port, proxy.OutboundAddress.Port, proxy.AdminAddress.Port, proxy.UpstreamAddresses["orders"].Port, proxy.UpstreamAddresses["redis"].Port };

        Assert.DoesNotContain(0, ports);
        Assert.Equal(ports.Length, ports.Distinct().Count());
        using var admin = Mesh.Client(proxy.AdminAddress);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await admin.GetAsync("/ready")).StatusCode);
    }

    [Fact]
    public async Task LayeredPath_RequestsOnOneKeepAliveConnection_EachSeeOnlyTheirOwnRequest()
    {
        // The sidecar's Kestrel reuses one HttpContext per connection (ProxyApplication): nothing of a request may leak into the next.
        await using var echo = await Backend.StartAsync(a => a.Run(c =>
            c.Response.WriteAsync($"{c.Request.Path} x-call={c.Request.Headers["x-call"]} items={c.Items.Count}")));
        await using var proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { FastPath = false });
        proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("echo", [Mesh.Endpoint("e", echo.Address)])]));
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 1 })
        {
            BaseAddress = new Uri($"http://{proxy.OutboundAddress}"),
        };
        client.DefaultRequestHeaders.Host = "echo";

        using var first = new HttpRequestMessage(HttpMethod.Get, "/one");
        first.Headers.Add("x-call", "1");
        var one = await (await client.SendAsync(first)).Content.ReadAsStringAsync();
        var two = await client.GetStringAsync("/two");

        Assert.Equal("/one x-call=1 items=0", one);
        Assert.Equal("/two x-call= items=0", two);
    }

    /// <summary>Waits, with a deadline, until the listener stops accepting.</summary>
    private static async Task WaitUntilRefusedAsync(IPEndPoint address)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(address);
            }
            catch (SocketException)
            {
                return;
            }

            await Task.Yield();
        }

        Assert.Fail($"{address} still accepts connections while draining");
    }
}
