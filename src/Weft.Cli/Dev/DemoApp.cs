using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Weft.Cli.Dev;

/// <summary>
/// One instance of a demo service in <c>weft dev</c>: answers <c>/</c> (calling its next service through its own
/// sidecar's outbound listener, as a real app in the mesh would) and <c>/health</c>, and fails the given share of
/// requests with a 500 so retries and outlier detection have something to do.
/// </summary>
internal static class DemoApp
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <param name="name">The instance's name, returned in its answer.</param>
    /// <param name="next">The service this one calls, or null for the last in the chain.</param>
    /// <param name="outbound">Its sidecar's outbound listener, where calls to <paramref name="next"/> go.</param>
    /// <param name="failureRate">Share of requests answered with 500 (0 to 1).</param>
    public static Task<LoopbackApp> StartAsync(string name, string? next, IPEndPoint? outbound, double failureRate) =>
        LoopbackApp.StartAsync(app =>
        {
            app.MapGet("/health", () => "ok\n");
            app.MapGet("/", async (HttpContext context) =>
            {
                if (failureRate > 0 && Random.Shared.NextDouble() < failureRate)
                    return Results.Text($"{name}: failing on purpose\n", statusCode: StatusCodes.Status500InternalServerError);
                if (next is null || outbound is null)
                    return Results.Text($"{name}\n");

                using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{outbound}/");
                request.Headers.Host = next;
                using var response = await Http.SendAsync(request, context.RequestAborted);
                var body = await response.Content.ReadAsStringAsync(context.RequestAborted);
                return Results.Text($"{name} -> {body}", statusCode: (int)response.StatusCode);
            });
        });
}
