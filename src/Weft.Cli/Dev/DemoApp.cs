using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Weft.Cli.Dev;

/// <summary>
/// One instance of a demo service in <c>weft dev</c>: answers <c>/</c> (calling its next service through its own
/// sidecar's outbound listener, as a real app in the mesh would) and <c>/health</c>, and fails the given share of
/// requests with a 500 so retries and outlier detection have something to do.
/// </summary>
internal sealed class DemoApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DemoApp(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    /// <param name="name">The instance's name, returned in its answer.</param>
    /// <param name="next">The service this one calls, or null for the last in the chain.</param>
    /// <param name="outbound">Its sidecar's outbound listener, where calls to <paramref name="next"/> go.</param>
    /// <param name="failureRate">Share of requests answered with 500 (0 to 1).</param>
    public static async Task<DemoApp> StartAsync(string name, string? next, IPEndPoint? outbound, double failureRate)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

        app.MapGet("/health", () => "ok\n");
        app.MapGet("/", async (HttpContext context) =>
        {
            if (failureRate > 0 && Random.Shared.NextDouble() < failureRate)
                return Results.Text($"{name}: failing on purpose\n", statusCode: StatusCodes.Status500InternalServerError);
            if (next is null || outbound is null)
                return Results.Text($"{name}\n");

            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{outbound}/");
            request.Headers.Host = next;
            using var response = await http.SendAsync(request, context.RequestAborted);
            var body = await response.Content.ReadAsStringAsync(context.RequestAborted);
            return Results.Text($"{name} -> {body}", statusCode: (int)response.StatusCode);
        });

        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new DemoApp(app, new Uri(address).Port);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
