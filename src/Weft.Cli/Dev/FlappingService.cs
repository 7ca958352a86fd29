using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Weft.Cli.Dev;

/// <summary>The demo service of <c>weft dev</c>: answers on loopback, and its /health is up, then down, in turns.</summary>
internal sealed class FlappingService : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FlappingService(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public static async Task<FlappingService> StartAsync(TimeSpan up, TimeSpan down, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        var started = time.GetTimestamp();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        var app = builder.Build();
        app.MapGet("/", () => "hello from the weft demo service\n");
        app.MapGet("/health", () =>
        {
            var phase = time.GetElapsedTime(started).Ticks % (up + down).Ticks;
            return phase < up.Ticks
                ? Results.Text("ok\n")
                : Results.Text("failing on purpose: weft dev's demo flaps its health\n", statusCode: StatusCodes.Status503ServiceUnavailable);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new FlappingService(app, new Uri(address).Port);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
