using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Weft.Proxy.Http2;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// <see cref="Http2ServerConnection"/> alone on a loopback port (Kestrel only accepts: its connection middleware hands
/// every connection to ours), running the handler a test gives it on every stream.
/// </summary>
internal sealed class OwnServer : IAsyncDisposable
{
    private readonly WebApplication _host;

    private OwnServer(WebApplication host, IPEndPoint address)
    {
        _host = host;
        Address = address;
    }

    public IPEndPoint Address { get; }

    public static async Task<OwnServer> StartAsync(RequestDelegate handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l =>
            l.Use(_ => connection => new Http2ServerConnection(connection, handler, TimeProvider.System).ServeAsync())));
        var host = builder.Build();
        await host.StartAsync();
        var address = host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new OwnServer(host, new IPEndPoint(IPAddress.Loopback, new Uri(address).Port));
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _host.StopAsync(stop.Token);
        await _host.DisposeAsync();
    }
}
