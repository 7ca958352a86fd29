using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Weft.Server.Tests.Health;

/// <summary>A real Kestrel server on a loopback port, answering the way services under check do.</summary>
public sealed class HttpTargetServer : IAsyncLifetime
{
    public const string OkBody = "all good";
    public const string FailBody = "database down";

    private WebApplication? _app;

    public string BaseUrl { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.MapGet("/ok", () => OkBody);
        _app.MapGet("/busy", () => Results.Text("slow down", statusCode: 429));
        _app.MapGet("/fail", () => Results.Text(FailBody, statusCode: 500));
        _app.MapGet("/moved", () => Results.Redirect("/ok"));
        _app.MapGet("/big", () => new string('a', 4096) + new string('b', 4096));
        _app.MapGet("/slow", async (HttpContext context) =>
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
            return "never";
        });
        _app.Map("/echo", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var headers = context.Request.Headers;
            return $"{context.Request.Method}|{headers.UserAgent}|{headers.Accept}|{headers["X-Multi"]}|{headers.ContentType}|{body}";
        });
        await _app.StartAsync();
        BaseUrl = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
            await _app.DisposeAsync();
    }
}
