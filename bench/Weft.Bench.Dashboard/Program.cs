using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Weft.Bench.Dashboard;

// Usage: weft-bench-dashboard --weft-dll PATH --work-dir DIR --results FILE [--quick] [--loads N]
// run.sh builds both, makes the work dir, and cleans it (and any PID left in <work-dir>/pids) afterwards.
string? Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
var weftDll = Arg("--weft-dll") ?? throw new ArgumentException("--weft-dll is required");
var workDir = Arg("--work-dir") ?? throw new ArgumentException("--work-dir is required");
var resultsFile = Arg("--results") ?? throw new ArgumentException("--results is required");
var quick = args.Contains("--quick");
var loads = int.Parse(Arg("--loads") ?? (quick ? "3" : "7"), CultureInfo.InvariantCulture);
(string Name, int Services, int Instances)[] scales = quick ? [("small", 50, 5)] : [("small", 50, 5), ("goal", 500, 10)];
const double GoalMs = 1000;
void Progress(string line) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}");
static string F(double v, int d = 1) => Catalog.F(v, d);
static string Load() => File.ReadAllText("/proc/loadavg").Trim();

var results = new JsonObject
{
    ["quick"] = quick,
    ["loads"] = loads,
    ["started_utc"] = DateTime.UtcNow.ToString("O"),
    ["cores"] = Environment.ProcessorCount,
    ["loadavg_at_start"] = Load(),
};
var table = new StringBuilder();
table.AppendLine(CultureInfo.InvariantCulture, $"dashboard first render, {loads} loads per case (fresh browser context each), load average at start {Load()}");

using var playwright = await Playwright.CreateAsync();
await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Dashboard.ChromiumPath, Headless = true });

// --baseline-weft-dll: the same measurements against a second server built from another commit, alternating load by
// load with this build's, so both see the same machine.
var builds = new List<(string Label, string Dll)> { ("this build", weftDll) };
if (Arg("--baseline-weft-dll") is { } baselineDll)
    builds.Add(($"baseline {Arg("--baseline-label") ?? ""}".Trim(), baselineDll));

foreach (var (scaleName, services, instances) in scales)
{
    var targets = new List<Target>();
    try
    {
        foreach (var (label, dll) in builds)
        {
            var server = await WeftServer.StartAsync(dll, workDir, $"{scaleName}-{targets.Count}", devOpen: false);
            var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 32 }) { Timeout = TimeSpan.FromSeconds(60) };
            client.DefaultRequestHeaders.Add("X-Consul-Token", server.Token);
            Progress($"{scaleName} ({label}): weft server on {server.Api}; registering {services} x {instances} instances");
            var (registered, seconds) = await Catalog.RegisterAsync(client, server.Api, services, instances, workers: 16, CancellationToken.None);
            var (critical, warning) = await Catalog.CountAsync(client, server.Api, CancellationToken.None);
            Progress($"{scaleName} ({label}): {registered} registered in {F(seconds)} s; checks critical {critical}, warning {warning}; starting the stats feed");
            targets.Add(new Target(label, server, client, new Dashboard(browser, client, server.Api, server.Token), StatsFeed.Start(server.Grpc, server.Token, services), registered, seconds, critical, warning));
        }

        foreach (var t in targets)
        {
            // Figures show once a 5 s slot holding reports has closed.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (DateTime.UtcNow < deadline)
            {
                var stats = await t.Http.GetFromJsonAsync<JsonObject>(new Uri(t.Server.Api, "/v1/weft/stats?history=false"));
                t.Shown = stats!["Services"]!.AsArray().Count(s => s!["RequestsPerSecond"]!.GetValue<double>() > 0);
                if (t.Shown == services) break;
                await Task.Delay(500);
            }

            Progress($"{scaleName} ({t.Label}): {t.Shown}/{services} services show traffic ({t.Feed.Reports} reports); warming up");
            await t.Dashboard.FetchAsync(null);
            await t.Dashboard.LoadAsync("");
        }

        var open = Catalog.ServiceName(services / 2);
        var cases = new (string Name, string Fragment, string? Service)[] { ("services list", "", null), ($"service open (#service={open})", $"#service={open}", open) };
        var samples = targets.SelectMany(t => cases.Select(c => (t.Label, c.Name))).ToDictionary(k => k, _ => (Pages: new List<PageLoad>(), Data: new List<DataFetch>()));
        for (var round = 0; round < loads; round++)
        {
            foreach (var c in cases)
            {
                // Each build in turn, its reference first, then the page, so drift in the machine's load lands on all.
                foreach (var t in round % 2 == 0 ? targets : Enumerable.Reverse(targets))
                {
                    samples[(t.Label, c.Name)].Data.Add(await t.Dashboard.FetchAsync(c.Service));
                    var page = await t.Dashboard.LoadAsync(c.Fragment);
                    if (page.Rows != services)
                        throw new InvalidOperationException($"the page ({t.Label}) showed {page.Rows} service rows, not {services}");
                    samples[(t.Label, c.Name)].Pages.Add(page);
                }
            }

            Progress($"{scaleName}: round {round + 1}/{loads}: first render {string.Join(", ", targets.Select(t => $"{t.Label} {F(samples[(t.Label, cases[0].Name)].Pages[^1].FirstRenderMs, 0)} ms"))} (load {Load()})");
        }

        var scaleJson = new JsonObject { ["services"] = services };
        foreach (var t in targets)
        {
            // The server's CPU per stats list, apart from how long the request waited for a core on this shared machine.
            const int cpuRequests = 40;
            var cpuBefore = t.Server.CpuSeconds();
            for (var i = 0; i < cpuRequests; i++)
                await t.Http.GetByteArrayAsync(new Uri(t.Server.Api, "/v1/weft/stats?history=false"));
            var statsCpuMs = (t.Server.CpuSeconds() - cpuBefore) * 1000 / cpuRequests;

            table.AppendLine();
            table.AppendLine(CultureInfo.InvariantCulture, $"{scaleName}, {t.Label}: {services} services x {instances} instances = {t.Registered} (registered in {F(t.RegisterSeconds)} s, {F(t.Registered / t.RegisterSeconds, 0)}/s), {t.Critical} critical and {t.Warning} warning checks, {t.Shown} services with traffic; load average now {Load()}");
            table.AppendLine(CultureInfo.InvariantCulture, $"  server CPU per GET /v1/weft/stats?history=false: {F(statsCpuMs, 2)} ms (over {cpuRequests} requests)");
            table.AppendLine(CultureInfo.InvariantCulture, $"  {"case",-34} {"what (ms)",-44} {"median",8} {"p90",8} {"ratio",7}");
            var targetJson = new JsonObject { ["server_cpu_ms_per_stats_list"] = Math.Round(statsCpuMs, 3), ["instances"] = t.Registered, ["register_seconds"] = Math.Round(t.RegisterSeconds, 2), ["critical"] = t.Critical, ["warning"] = t.Warning };
            foreach (var c in cases)
            {
                var (pages, data) = samples[(t.Label, c.Name)];
                var first = pages.Select(p => p.FirstRenderMs).ToList();
                var complete = pages.Select(p => p.CompleteMs).ToList();
                var afterResponse = pages.Select(p => p.RenderAfterResponseMs).ToList();
                var fetch = data.Select(d => d.TotalMs).ToList();
                var statsOnly = data.Select(d => d.StatsMs).ToList();
                var refMedian = Stats.Median(fetch);
                void Row(string what, List<double> ms) =>
                    table.AppendLine(CultureInfo.InvariantCulture, $"  {c.Name,-34} {what,-44} {F(Stats.Median(ms)),8} {F(Stats.Percentile(ms, 90)),8} {F(Stats.Median(ms) / refMedian, 2) + "x",7}");
                Row("data requests alone (HttpClient), reference", fetch);
                Row("  of which GET /v1/weft/stats?history=false", statsOnly);
                Row("page: navigation start -> first render", first);
                Row("page: responseEnd -> first render", afterResponse);
                Row("page: navigation start -> complete", complete);
                Row("page: wall time, goto -> complete mark", pages.Select(p => p.WallMs).ToList());
                table.AppendLine(CultureInfo.InvariantCulture, $"  {"",-34} timeline of the last load (ms from navigation start):");
                foreach (var step in pages[^1].Timeline.Split('\n'))
                    table.AppendLine(CultureInfo.InvariantCulture, $"  {"",-38} {step}");
                table.AppendLine(CultureInfo.InvariantCulture, $"  {"",-34} data: {data[0].TotalBytes / 1024.0:F0} KiB in all, stats list {data[0].StatsBytes / 1024.0:F0} KiB; JS heap {pages[^1].JsHeapBytes / 1048576.0:F1} MiB");
                if (instances >= 10 && services >= 500)
                {
                    var (median, p90) = (Stats.Median(first), Stats.Percentile(first, 90));
                    table.AppendLine(CultureInfo.InvariantCulture, $"  {"",-34} goal: first render < {GoalMs:F0} ms: median {F(median, 0)} ms, p90 {F(p90, 0)} ms -> {(p90 < GoalMs ? "met" : median < GoalMs ? "met at the median, not at p90" : "NOT met")}; complete: median {F(Stats.Median(complete), 0)} ms");
                }

                targetJson[c.Name] = new JsonObject
                {
                    ["first_render_ms"] = new JsonArray([.. first.Select(v => (JsonNode)Math.Round(v, 1))]),
                    ["complete_render_ms"] = new JsonArray([.. complete.Select(v => (JsonNode)Math.Round(v, 1))]),
                    ["render_after_response_end_ms"] = new JsonArray([.. afterResponse.Select(v => (JsonNode)Math.Round(v, 1))]),
                    ["data_alone_ms"] = new JsonArray([.. fetch.Select(v => (JsonNode)Math.Round(v, 1))]),
                    ["stats_list_ms"] = new JsonArray([.. statsOnly.Select(v => (JsonNode)Math.Round(v, 1))]),
                    ["data_bytes"] = data[0].TotalBytes,
                    ["stats_list_bytes"] = data[0].StatsBytes,
                };
            }

            scaleJson[t.Label] = targetJson;
        }

        if (targets.Count == 2)
        {
            table.AppendLine();
            foreach (var c in cases)
            {
                double M(Target t, Func<PageLoad, double> f) => Stats.Median(samples[(t.Label, c.Name)].Pages.Select(f).ToList());
                table.AppendLine(CultureInfo.InvariantCulture, $"  A/B {scaleName}, {c.Name}: first render {F(M(targets[0], p => p.FirstRenderMs), 0)} vs {F(M(targets[1], p => p.FirstRenderMs), 0)} ms ({F(M(targets[0], p => p.FirstRenderMs) / M(targets[1], p => p.FirstRenderMs), 2)}x), complete {F(M(targets[0], p => p.CompleteMs), 0)} vs {F(M(targets[1], p => p.CompleteMs), 0)} ms ({F(M(targets[0], p => p.CompleteMs) / M(targets[1], p => p.CompleteMs), 2)}x), {targets[0].Label} vs {targets[1].Label}");
            }
        }

        scaleJson["loadavg_after"] = Load();
        results[scaleName] = scaleJson;
    }
    finally
    {
        foreach (var t in targets)
        {
            await t.Feed.DisposeAsync();
            t.Http.Dispose();
            await t.Server.DisposeAsync();
        }
    }
}

results["loadavg_at_end"] = Load();
table.AppendLine();
table.AppendLine(CultureInfo.InvariantCulture, $"load average at end {Load()} ({Environment.ProcessorCount} cores)");
Console.Write(table.ToString());
await File.WriteAllTextAsync(resultsFile, results.ToJsonString(new() { WriteIndented = true }));

/// <summary>One server under test: a build, its stats feed, and what its registration took.</summary>
internal sealed record Target(string Label, WeftServer Server, HttpClient Http, Dashboard Dashboard, StatsFeed Feed, int Registered, double RegisterSeconds, int Critical, int Warning)
{
    public int Shown { get; set; }
}
