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
using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 32 }) { Timeout = TimeSpan.FromSeconds(60) };

foreach (var (scaleName, services, instances) in scales)
{
    await using var server = await WeftServer.StartAsync(weftDll, workDir, scaleName);
    http.DefaultRequestHeaders.Remove("X-Consul-Token");
    http.DefaultRequestHeaders.Add("X-Consul-Token", server.Token);
    Progress($"{scaleName}: weft server on {server.Api}; registering {services} x {instances} instances");
    var (registered, seconds) = await Catalog.RegisterAsync(http, server.Api, services, instances, workers: 16, CancellationToken.None);
    var (critical, warning) = await Catalog.CountAsync(http, server.Api, CancellationToken.None);
    Progress($"{scaleName}: {registered} registered in {F(seconds)} s; checks critical {critical}, warning {warning}; starting the stats feed");

    await using var feed = StatsFeed.Start(server.Grpc, server.Token, services);
    // Figures show once a 5 s slot holding reports has closed.
    var deadline = DateTime.UtcNow.AddSeconds(60);
    var shown = 0;
    while (DateTime.UtcNow < deadline)
    {
        var stats = await http.GetFromJsonAsync<JsonObject>(new Uri(server.Api, "/v1/weft/stats?history=false"));
        shown = stats!["Services"]!.AsArray().Count(s => s!["RequestsPerSecond"]!.GetValue<double>() > 0);
        if (shown == services) break;
        await Task.Delay(500);
    }

    Progress($"{scaleName}: {shown}/{services} services show traffic ({feed.Reports} reports); warming up");
    var dashboard = new Dashboard(browser, http, server.Api, server.Token);
    var open = Catalog.ServiceName(services / 2);
    await dashboard.FetchAsync(null);
    await dashboard.LoadAsync("");

    var cases = new (string Name, string Fragment, string? Service)[] { ("services list", "", null), ($"service open (#service={open})", $"#service={open}", open) };
    var samples = cases.ToDictionary(c => c.Name, _ => (Pages: new List<PageLoad>(), Data: new List<DataFetch>()));
    for (var round = 0; round < loads; round++)
    {
        foreach (var c in cases)
        {
            // The reference first, then the page, alternating, so drift in the machine's load lands on both.
            samples[c.Name].Data.Add(await dashboard.FetchAsync(c.Service));
            var page = await dashboard.LoadAsync(c.Fragment);
            if (page.Rows != services)
                throw new InvalidOperationException($"the page showed {page.Rows} service rows, not {services}");
            samples[c.Name].Pages.Add(page);
        }

        Progress($"{scaleName}: round {round + 1}/{loads}: first render {F(samples[cases[0].Name].Pages[^1].FirstRenderMs, 0)} ms (load {Load()})");
    }

    // The server's CPU per stats list, apart from how long the request waited for a core on this shared machine.
    const int cpuRequests = 40;
    var cpuBefore = server.CpuSeconds();
    for (var i = 0; i < cpuRequests; i++)
        await http.GetByteArrayAsync(new Uri(server.Api, "/v1/weft/stats?history=false"));
    var statsCpuMs = (server.CpuSeconds() - cpuBefore) * 1000 / cpuRequests;

    table.AppendLine();
    table.AppendLine(CultureInfo.InvariantCulture, $"{scaleName}: {services} services x {instances} instances = {registered} (registered in {F(seconds)} s, {F(registered / seconds, 0)}/s), {critical} critical and {warning} warning checks, {shown} services with traffic; load average now {Load()}");
    table.AppendLine(CultureInfo.InvariantCulture, $"  {"case",-34} {"what (ms)",-44} {"median",8} {"p90",8} {"ratio",7}");
    table.AppendLine(CultureInfo.InvariantCulture, $"  server CPU per GET /v1/weft/stats?history=false: {F(statsCpuMs, 2)} ms (over {cpuRequests} requests)");
    var scaleJson = new JsonObject { ["server_cpu_ms_per_stats_list"] = Math.Round(statsCpuMs, 3), ["services"] = services, ["instances"] = registered, ["register_seconds"] = Math.Round(seconds, 2), ["critical"] = critical, ["warning"] = warning };
    foreach (var c in cases)
    {
        var (pages, data) = samples[c.Name];
        var first = pages.Select(p => p.FirstRenderMs).ToList();
        var afterResponse = pages.Select(p => p.RenderAfterResponseMs).ToList();
        var fetch = data.Select(d => d.TotalMs).ToList();
        var statsOnly = data.Select(d => d.StatsMs).ToList();
        var refMedian = Stats.Median(fetch);
        void Row(string what, List<double> ms, bool ratio = true) =>
            table.AppendLine(CultureInfo.InvariantCulture, $"  {c.Name,-34} {what,-44} {F(Stats.Median(ms)),8} {F(Stats.Percentile(ms, 90)),8} {(ratio ? F(Stats.Median(ms) / refMedian, 2) + "x" : ""),7}");
        Row("data requests alone (HttpClient), reference", fetch);
        Row("  of which GET /v1/weft/stats?history=false", statsOnly);
        Row("page: navigation start -> first render", first);
        Row("page: responseEnd -> first render", afterResponse);
        Row("page: navigation start -> complete (+config)", pages.Select(p => p.CompleteMs).ToList());
        Row("page: wall time, goto -> complete mark", pages.Select(p => p.WallMs).ToList());
        var median = Stats.Median(first);
        table.AppendLine(CultureInfo.InvariantCulture, $"  {"",-34} timeline of the last load (ms from navigation start):");
        foreach (var step in pages[^1].Timeline.Split('\n'))
            table.AppendLine(CultureInfo.InvariantCulture, $"  {"",-38} {step}");
        table.AppendLine(CultureInfo.InvariantCulture, $"  {"",-34} data: {data[0].TotalBytes / 1024.0:F0} KiB in all, stats list {data[0].StatsBytes / 1024.0:F0} KiB; JS heap {pages[^1].JsHeapBytes / 1048576.0:F1} MiB");
        if (instances >= 10 && services >= 500)
            table.AppendLine(CultureInfo.InvariantCulture, $"  {"",-34} goal: first render < {GoalMs:F0} ms: median {F(median, 0)} ms, p90 {F(Stats.Percentile(first, 90), 0)} ms -> {(Stats.Percentile(first, 90) < GoalMs ? "met" : median < GoalMs ? "met at the median, not at p90" : "NOT met")}; complete: median {F(Stats.Median(pages.Select(p => p.CompleteMs).ToList()), 0)} ms");
        scaleJson[c.Name] = new JsonObject
        {
            ["first_render_ms"] = new JsonArray([.. first.Select(v => (JsonNode)Math.Round(v, 1))]),
            ["complete_render_ms"] = new JsonArray([.. pages.Select(p => (JsonNode)Math.Round(p.CompleteMs, 1))]),
            ["render_after_response_end_ms"] = new JsonArray([.. afterResponse.Select(v => (JsonNode)Math.Round(v, 1))]),
            ["data_alone_ms"] = new JsonArray([.. fetch.Select(v => (JsonNode)Math.Round(v, 1))]),
            ["stats_list_ms"] = new JsonArray([.. statsOnly.Select(v => (JsonNode)Math.Round(v, 1))]),
            ["data_bytes"] = data[0].TotalBytes,
            ["stats_list_bytes"] = data[0].StatsBytes,
        };
    }

    scaleJson["loadavg_after"] = Load();
    results[scaleName] = scaleJson;
}

results["loadavg_at_end"] = Load();
table.AppendLine();
table.AppendLine(CultureInfo.InvariantCulture, $"load average at end {Load()} ({Environment.ProcessorCount} cores)");
Console.Write(table.ToString());
await File.WriteAllTextAsync(resultsFile, results.ToJsonString(new() { WriteIndented = true }));
