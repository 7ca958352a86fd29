using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Proxy.Hosting;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.FastPath;

/// <summary>
/// The client sidecar's hop on Weft's own HTTP/2 client allocates less per request than the same hop through
/// SocketsHttpHandler (no request and response messages, header collections, or content streams per request). Two
/// client sidecars, one with <c>WEFT_FAST_H2</c>, call the same server sidecar over mTLS from raw clients in the same
/// process, alternating; the lowest bytes per request of five rounds are compared.
/// </summary>
[Collection(nameof(ProcessAllocations))]
public sealed class OwnH2AllocationTests : IDisposable
{
    private const int Requests = 2000;
    private readonly TestCa _ca = new();

    public void Dispose() => _ca.Dispose();

    [Fact]
    public async Task OwnH2Client_AllocatesLessPerRequestThanSocketsHttpHandler()
    {
        await using var app = await Backend.StartAsync(a => a.Run(c => c.Response.WriteAsync("ok")));
        await using var server = await Mesh.SecureProxyAsync(_ca.Workload("orders"), "orders", app.Address);
        Assert.True(server.ConfigSink.Apply(Mesh.Snapshot(1, [])).Applied);
        await using var own = await ClientSidecarAsync(server.InboundAddress, fastH2: true);
        await using var handler = await ClientSidecarAsync(server.InboundAddress, fastH2: false);
        using var ownClient = await RawClient.ConnectAsync(own.OutboundAddress);
        using var handlerClient = await RawClient.ConnectAsync(handler.OutboundAddress);
        var request = Encoding.ASCII.GetBytes("GET /orders/7 HTTP/1.1\r\nHost: orders\r\nUser-Agent: wrk\r\n\r\n");
        await ownClient.SendOkAsync(request, 200);
        await handlerClient.SendOkAsync(request, 200);

        var lowest = await RawClient.LowestOfRoundsAsync(5,
            () => ownClient.BytesPerRequestAsync(request, Requests), () => handlerClient.BytesPerRequestAsync(request, Requests));
        var (ownBytes, handlerBytes) = (lowest[0], lowest[1]);

        Assert.Equal(200 + 5 * Requests, own.FastPath!.SidecarH2Exchanges);
        Assert.Equal(0, handler.FastPath!.SidecarH2Exchanges);
        var figures = $"bytes per request (whole process, both sidecars and the app): own h2 client {ownBytes}, SocketsHttpHandler {handlerBytes}";
        Assert.True(ownBytes + 1000 < handlerBytes, figures);
    }

    private async Task<ProxyHost> ClientSidecarAsync(IPEndPoint inbound, bool fastH2)
    {
        var client = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { Workload = _ca.Workload("frontend"), Time = _ca.Time, FastH2 = fastH2 });
        Assert.True(client.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("orders-0", inbound, sidecar: true)])])).Applied);
        return client;
    }
}
