using System.Diagnostics;
using System.Text.Json;
using Microsoft.Playwright;

namespace Weft.Bench.Dashboard;

/// <summary>One load of the dashboard in a fresh browser context (empty cache, new tab), as <c>tests/Weft.EndToEnd/Dashboard</c> drives it.</summary>
internal sealed record PageLoad(double FirstRenderMs, double CompleteMs, double ResponseEndMs, double RenderAfterResponseMs, double WallMs, int Rows, long JsHeapBytes, string Timeline);

/// <summary>The same data the page fetches before its first render, fetched by HttpClient alone: the floor the page stands on.</summary>
internal sealed record DataFetch(double TotalMs, double StatsMs, long StatsBytes, long TotalBytes);

internal sealed class Dashboard(IBrowser browser, HttpClient http, Uri api, string token)
{
    public const string ChromiumPath = "/usr/bin/chromium";
    private static readonly string[] ConfigKinds = ["service-defaults", "service-router", "service-splitter", "service-resolver", "service-intentions"];

    /// <summary>
    /// Opens <c>/ui/</c> (with <paramref name="fragment"/>, e.g. <c>#service=svc-250</c>) in a new context whose tab already
    /// holds the token, as after an operator typed it into the dashboard's prompt once, and waits for the page's own marks:
    /// <c>data-first-render-ms</c> (the first screen: the top 100 service rows and the open service's detail) and
    /// <c>data-complete-render-ms</c> (every row, the topology, config entries and intentions). Times are the page's (<c>performance.now()</c>,
    /// from navigation start).
    /// </summary>
    public async Task<PageLoad> LoadAsync(string fragment)
    {
        await using var context = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 1280, Height = 900 } });
        await context.AddInitScriptAsync($"sessionStorage.setItem('weft.token', {JsonSerializer.Serialize(token)});");
        var page = await context.NewPageAsync();
        var started = Stopwatch.GetTimestamp();
        await page.GotoAsync(new Uri(api, "/ui/" + fragment).ToString());
        await page.WaitForSelectorAsync("body[data-first-render-ms]", new() { State = WaitForSelectorState.Attached, Timeout = 120_000 });
        // A page from before data-complete-render-ms (a --baseline build) rendered everything before its first-render mark.
        var marksComplete = await page.EvaluateAsync<bool>("() => performance.getEntriesByName('weft-script-start').length > 0");
        if (marksComplete)
            await page.WaitForSelectorAsync("body[data-complete-render-ms]", new() { State = WaitForSelectorState.Attached, Timeout = 120_000 });
        var wall = Stats.Ms(started, Stopwatch.GetTimestamp());
        var marks = await page.EvaluateAsync<JsonElement>("""
            () => {
              const nav = performance.getEntriesByType('navigation')[0];
              return {
                first: Number(document.body.dataset.firstRenderMs),
                complete: Number(document.body.dataset.completeRenderMs ?? document.body.dataset.firstRenderMs),
                responseEnd: nav.responseEnd,
                rows: document.querySelectorAll('#services tr').length,
                heap: (performance.memory && performance.memory.usedJSHeapSize) || 0,
                timeline: [
                  `document ${nav.requestStart.toFixed(0)}-${nav.responseEnd.toFixed(0)}`,
                  `domContentLoaded ${nav.domContentLoadedEventEnd.toFixed(0)}`,
                  ...performance.getEntriesByType('resource').map(r =>
                    `${r.name.replace(location.origin, '')} ${r.startTime.toFixed(0)}-${r.responseEnd.toFixed(0)} (${r.encodedBodySize} B)`),
                  ...performance.getEntriesByType('mark').map(m => `mark ${m.name} ${m.startTime.toFixed(0)}`),
                ].join('\n'),
              };
            }
            """);
        var first = marks.GetProperty("first").GetDouble();
        var responseEnd = marks.GetProperty("responseEnd").GetDouble();
        return new PageLoad(first, marks.GetProperty("complete").GetDouble(), responseEnd, first - responseEnd, wall, marks.GetProperty("rows").GetInt32(), (long)marks.GetProperty("heap").GetDouble(),
            marks.GetProperty("timeline").GetString() ?? "");
    }

    /// <summary>
    /// The requests of the page's first refresh, in its order: the stats list; then (with a service open) that service's stats
    /// and health together; then every config kind together; then the intentions.
    /// </summary>
    public async Task<DataFetch> FetchAsync(string? service)
    {
        long bytes = 0;
        var started = Stopwatch.GetTimestamp();
        var stats = await GetAsync("/v1/weft/stats?history=false");
        var statsMs = Stats.Ms(started, Stopwatch.GetTimestamp());
        bytes += stats;
        if (service is not null)
            bytes += (await Task.WhenAll(GetAsync($"/v1/weft/stats/{service}"), GetAsync($"/v1/health/service/{service}"))).Sum();
        bytes += (await Task.WhenAll(ConfigKinds.Select(k => GetAsync($"/v1/config/{k}")))).Sum();
        bytes += await GetAsync("/v1/connect/intentions");
        return new DataFetch(Stats.Ms(started, Stopwatch.GetTimestamp()), statsMs, stats, bytes);
    }

    private async Task<long> GetAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(api, path));
        request.Headers.Add("X-Consul-Token", token);
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"GET {path}: {(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(body)}");
        return body.Length;
    }
}
