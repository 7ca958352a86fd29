using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Weft.Bench.Ca;

// Usage: weft-bench-ca --weft-dll PATH --work-dir DIR --results FILE [--quick]
// run.sh builds both, makes the work dir, and cleans it (and any PID left in <work-dir>/pids) afterwards.
string? Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
var weftDll = Arg("--weft-dll") ?? throw new ArgumentException("--weft-dll is required");
var workDir = Arg("--work-dir") ?? throw new ArgumentException("--work-dir is required");
var resultsFile = Arg("--results") ?? throw new ArgumentException("--results is required");
var quick = args.Contains("--quick");
var rounds = quick ? 1 : 3;
var sequential = quick ? 30 : 200;
var (concurrent, workers) = (quick ? 64 : 400, 16);
// 1,000 renewals in a minute, compressed 4x: the same 1,000 over 15 s (quick: 200 over 3 s, the same rate).
var (renewals, window) = quick ? (200, TimeSpan.FromSeconds(3)) : (1_000, TimeSpan.FromSeconds(15));
var probeEvery = TimeSpan.FromMilliseconds(250);
void Progress(string line) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}");
static string F(double v, int d = 1) => double.IsFinite(v) ? v.ToString($"F{d}", CultureInfo.InvariantCulture) : "-";

var results = new JsonObject
{
    ["quick"] = quick,
    ["started_utc"] = DateTime.UtcNow.ToString("O"),
    ["cores"] = Environment.ProcessorCount,
    ["loadavg_at_start"] = File.ReadAllText("/proc/loadavg").Trim(),
};
var table = new StringBuilder();
void Row(string what, List<double> ms, string extra = "")
{
    table.AppendLine(CultureInfo.InvariantCulture, $"  {what,-60} {ms.Count,6} {F(Stats.Median(ms), 2),8} {F(Stats.Percentile(ms, 99), 2),8} {F(Stats.Max(ms), 2),8}  {extra}");
    results[what] = new JsonObject { ["count"] = ms.Count, ["p50_ms"] = Math.Round(Stats.Median(ms), 3), ["p99_ms"] = Math.Round(Stats.Percentile(ms, 99), 3), ["max_ms"] = Math.Round(Stats.Max(ms), 3), ["note"] = extra };
}

await using var server = await WeftServer.StartAsync(weftDll, workDir, "ca", devOpen: true);
Progress($"weft server on {server.Api} (stream {server.Grpc}), trust domain {server.TrustDomain}; making CSRs");
var csrs = Csrs.Make(server.TrustDomain, renewals);
using var local = new Csrs.LocalCa();
// Up to 64 connections: the storm's renewals each hold one while in flight, as separate sidecars would.
using var http = new HttpClient(new System.Net.Http.SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 64 }) { Timeout = TimeSpan.FromSeconds(10) };
var loads = new Loads(http, server.Api, csrs, local);
(string Name, Func<Task> Request)[] kinds = [("PUT /v1/connect/ca/sign", loads.SignAsync), ("GET /v1/status/leader (HTTP floor)", loads.LeaderAsync), ("in-process sign, no HTTP (crypto floor)", loads.LocalSignAsync)];
foreach (var (_, request) in kinds) await Loads.SequentialAsync(request, 20); // warm-up: JIT, connections

// 1. Latency of one request at a time, and with 16 at once; the kinds alternate each round so drift lands on all.
var seq = kinds.ToDictionary(k => k.Name, _ => new List<double>());
var conc = kinds.ToDictionary(k => k.Name, _ => (Latencies: new List<double>(), Rates: new List<double>()));
for (var round = 0; round < rounds; round++)
{
    foreach (var (name, request) in kinds.Skip(round % kinds.Length).Concat(kinds.Take(round % kinds.Length)))
    {
        seq[name].AddRange(await Loads.SequentialAsync(request, sequential));
        var (latencies, rate) = await Loads.ConcurrentAsync(request, concurrent, workers);
        conc[name].Latencies.AddRange(latencies);
        conc[name].Rates.Add(rate);
    }

    Progress($"signing round {round + 1}/{rounds} done");
}

var cpuBefore = server.CpuSeconds();
await Loads.SequentialAsync(loads.SignAsync, sequential);
var serverCpuPerSignMs = (server.CpuSeconds() - cpuBefore) * 1000 / sequential;

// 2. Config pushes with and without a renewal storm, alternating; probes every 250 ms during each window.
await using var probe = await PushProbe.ConnectAsync(server.Grpc);
async Task<List<double>> ProbesAsync(Task until)
{
    var latencies = new List<double>();
    var deadline = Stopwatch.GetTimestamp() + (long)((window.TotalSeconds + 30) * Stopwatch.Frequency);
    while (!until.IsCompleted && Stopwatch.GetTimestamp() < deadline)
    {
        var next = Task.Delay(probeEvery);
        latencies.Add(await probe.MeasureAsync(http, server.Api));
        await next;
    }

    return latencies;
}

for (var i = 0; i < 5; i++) await probe.MeasureAsync(http, server.Api); // warm-up
List<double> quiet = [], stormed = [], stormSigns = [];
var stormFailed = 0;
for (var round = 0; round < (quick ? 1 : 2); round++)
{
    quiet.AddRange(await ProbesAsync(Task.Delay(window)));
    var storm = Loads.OpenLoopAsync(loads.SignAsync, renewals, window, maxInFlight: 64);
    stormed.AddRange(await ProbesAsync(storm));
    var (signs, failed) = await storm;
    stormSigns.AddRange(signs);
    stormFailed += failed;
    Progress($"push round {round + 1}: {failed} of {renewals} renewals failed");
}

results["loadavg_at_end"] = File.ReadAllText("/proc/loadavg").Trim();
Console.WriteLine($"weft CA bench{(quick ? " (--quick)" : "")}: {Environment.ProcessorCount} cores, load average at start {results["loadavg_at_start"]}, at end {results["loadavg_at_end"]} (the cores are shared)");
Console.WriteLine("weft server --dev-open, SQLite store, ECDSA P-256 root; CSRs made before timing; latencies in ms, exact (every request kept)");
table.AppendLine(CultureInfo.InvariantCulture, $"  {"",-60} {"count",6} {"p50",8} {"p99",8} {"max",8}");
Console.Write(table.ToString());
table.Clear();
foreach (var (name, _) in kinds) Row($"{name}, sequential", seq[name]);
foreach (var (name, _) in kinds) Row($"{name}, {workers} concurrent", conc[name].Latencies, $"{F(Stats.Median(conc[name].Rates), 0)} req/s");
Row($"sign during the storm ({renewals} over {window.TotalSeconds:F0} s, from schedule)", stormSigns, $"{stormFailed} failed");
Row("config push, quiet", quiet);
Row($"config push, during {renewals} renewals in {window.TotalSeconds:F0} s", stormed);
Console.Write(table.ToString());
Console.WriteLine($"  weft server CPU per sign (sequential): {F(serverCpuPerSignMs, 2)} ms");
results["server_cpu_ms_per_sign"] = Math.Round(serverCpuPerSignMs, 3);

var signP99 = Stats.Percentile(seq[kinds[0].Name], 99);
var signP99Concurrent = Stats.Percentile(conc[kinds[0].Name].Latencies, 99);
var pushDelay = Stats.Percentile(stormed, 99) - Stats.Percentile(quiet, 99);
var pushDelayP50 = Stats.Median(stormed) - Stats.Median(quiet);
Console.WriteLine("Goals (issue 4, certificate issuance), this run");
void Goal(string goal, double value, bool met) => Console.WriteLine($"  {goal,-72} {F(value, 2) + " ms",12}  {(double.IsFinite(value) ? met ? "met" : "not met" : "-")}");
Goal("sign p99 < 20 ms (sequential)", signP99, signP99 < 20);
Goal($"sign p99 < 20 ms ({workers} concurrent)", signP99Concurrent, signP99Concurrent < 20);
Goal($"config push p99 delay from {renewals} renewals in {window.TotalSeconds:F0} s <= 100 ms", pushDelay, pushDelay <= 100 && stormFailed == 0);
Console.WriteLine($"  (info) config push p50 delay from the renewals: {F(pushDelayP50, 2)} ms; renewals failed: {stormFailed}");
results["goals"] = new JsonObject { ["sign_p99_ms"] = Math.Round(signP99, 3), ["sign_p99_concurrent_ms"] = Math.Round(signP99Concurrent, 3), ["push_p99_delay_ms"] = Math.Round(pushDelay, 3), ["push_p50_delay_ms"] = Math.Round(pushDelayP50, 3), ["storm_failed"] = stormFailed };
results["finished_utc"] = DateTime.UtcNow.ToString("O");
await File.WriteAllTextAsync(resultsFile, results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"JSON: {resultsFile}");
