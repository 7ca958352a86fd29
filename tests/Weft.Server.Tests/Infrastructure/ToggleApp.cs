using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Weft.Server.Tests.Infrastructure;

/// <summary>A real HTTP app on loopback whose /health answers with whatever status the test sets.</summary>
internal sealed class ToggleApp : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _status = 200;
    private int _hits;

    private ToggleApp(WebApplication app) => _app = app;

    public int Status
    {
        get => Volatile.Read(ref _status);
        set => Volatile.Write(ref _status, value);
    }

    public int Hits => Volatile.Read(ref _hits);

    public string HealthUrl { get; private set; } = "";

    public static async Task<ToggleApp> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        var app = builder.Build();
        var toggle = new ToggleApp(app);
        app.MapGet("/health", () =>
        {
            Interlocked.Increment(ref toggle._hits);
            return Results.Text($"status {toggle.Status}", statusCode: toggle.Status);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        toggle.HealthUrl = address.TrimEnd('/') + "/health";
        return toggle;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
