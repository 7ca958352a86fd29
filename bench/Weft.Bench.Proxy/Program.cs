using System.Text.Json;
using System.Text.Json.Nodes;
using Weft.Bench.Proxy;

// Usage: weft-bench-proxy --weft-dll PATH --work-dir DIR --results FILE [--quick] [--only http1|http2|fixed] [--mtls]
//        [--weft-aot PATH] [--knobs [--knob 'NAME|VAR=VALUE;config:KEY=VALUE;exe:PATH;arg:FLAGS']... [--rounds N]]
//        (--mtls --knob SPEC...: one more two-hop sidecar pair per knob, target "weft 2 hops: NAME")
// run.sh builds both, makes the work dir, and cleans it (and any PID left in <work-dir>/pids) afterwards.
string? Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
// --open-loop URL HOST RATE SECONDS CONNECTIONS: only the fixed-rate load (for bench/proxy/profile.sh --fixed), its
// latency percentiles printed on one line.
if (args.Length == 6 && args[0] == "--open-loop")
{
    var inv = System.Globalization.CultureInfo.InvariantCulture;
    var run = OpenLoop.Run(new Uri(args[1]), args[2], int.Parse(args[3], inv), int.Parse(args[4], inv), int.Parse(args[5], inv));
    Console.WriteLine(string.Create(inv, $"{run.FromSendMs.Count} requests in (open loop at {run.SentPerSecond:F0}/s sent, errors {run.Errors}): " +
        $"p50 {Weft.Bench.Stats.Percentile(run.FromSendMs, 50):F3} ms, p99 {Weft.Bench.Stats.Percentile(run.FromSendMs, 99):F3} ms, p99.9 {Weft.Bench.Stats.Percentile(run.FromSendMs, 99.9):F3} ms"));
    return;
}

var ctx = new BenchContext(
    Arg("--weft-dll") ?? throw new ArgumentException("--weft-dll is required"),
    Arg("--work-dir") ?? throw new ArgumentException("--work-dir is required"),
    args.Contains("--quick"))
{
    Mtls = args.Contains("--mtls"),
    WeftAot = Arg("--weft-aot"),
    RoundsOverride = Arg("--rounds") is { } n ? int.Parse(n, System.Globalization.CultureInfo.InvariantCulture) : null,
};
var specs = args.Select((a, i) => (a, i)).Where(x => x.a == "--knob" && x.i + 1 < args.Length).Select(x => args[x.i + 1]).ToList();
if (args.Contains("--knobs"))
{
    if (specs.Count == 0) specs = [.. SidecarLaunch.DefaultSpecs];
    ctx.Knobs = [SidecarLaunch.Baseline(ctx), .. specs.Select((spec, i) => SidecarLaunch.Parse(spec, ctx, i))];
}
else if (ctx.Mtls && specs.Count > 0)
{
    // --mtls --knob: one more client/server sidecar pair per knob, both started with its settings.
    ctx.PairKnobs = [.. specs.Select((spec, i) => SidecarLaunch.Parse(spec, ctx, i))];
}

var only = Arg("--only");
bool Runs(string part) => only is null || only == part;
// --targets 'direct;weft 2 hops': only these targets (exact names, ';'-separated), for a shorter experiment.
var onlyTargets = Arg("--targets")?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
List<Target> Chosen(List<Target> all) => onlyTargets is null ? all : [.. all.Where(t => onlyTargets.Contains(t.Name))];
var resultsFile = Arg("--results") ?? throw new ArgumentException("--results is required");
void Progress(string line) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}");

var results = new JsonObject
{
    ["quick"] = ctx.Quick,
    ["started_utc"] = DateTime.UtcNow.ToString("O"),
    ["cores"] = Environment.ProcessorCount,
    ["loadavg_at_start"] = File.ReadAllText("/proc/loadavg").Trim(),
};
var tables = new List<Table>();
if (ctx.Mtls)
{
    // Issue 4: two hops with mTLS vs without, and two HAProxies over TLS 1.3 with client certificates; closed loops only.
    await using var backend = await Backend.StartAsync(ctx);
    await using var haproxy = await HaproxyTarget.StartAsync(ctx, backend);
    await using var haproxyTls = await HaproxyTlsPairTarget.StartAsync(ctx, backend);
    await using var mesh = await WeftMesh.StartAsync(ctx, backend, Progress);
    List<Target> targets = [new DirectTarget(backend), haproxy, haproxyTls, WeftTarget.TwoHops(mesh), WeftTarget.TwoHopsSocketsH2(mesh), WeftTarget.TwoHopsKestrelH2(mesh), WeftTarget.TwoHopsLayered(mesh), WeftTarget.TwoHopsInboundYarp(mesh), WeftTarget.TwoHopsPlaintext(mesh)];
    if (mesh.Unavailable is null) targets.AddRange(mesh.KnobPairs.Select((_, i) => (Target)WeftTarget.TwoHopsKnob(mesh, i)));
    if (ctx.PairKnobs is { } pairKnobs)
        results["knobs"] = new JsonObject(pairKnobs.Select(k => KeyValuePair.Create(k.Name, (JsonNode?)k.Describe())));
    targets = Chosen(targets);
    var idleRss = targets.Where(t => t.Unavailable is null && t.ProxyPids().Count > 0).ToDictionary(t => t.Name, t => ProcStats.RssKiB(t.ProxyPids()));
    if (Runs("http1"))
    {
        results["http1"] = await ClosedLoopRun.RunAsync(ctx,
            $"mTLS, HTTP/1.1 from the client: wrk -t1 -c{ctx.WrkConnections} -d{ctx.LoadSeconds}s, median of {ctx.Rounds} alternating rounds",
            "http1", targets, backend, idleRss, Loads.WrkAsync, Progress, tables);
    }

    if (Runs("http2"))
    {
        results["http2"] = await ClosedLoopRun.RunAsync(ctx,
            $"mTLS, h2c from the client: h2load -t1 -c{ctx.H2Connections} -m{ctx.H2Streams} -D{ctx.LoadSeconds}, median of {ctx.Rounds} alternating rounds",
            "http2", targets, backend, idleRss, Loads.H2loadAsync, Progress, tables);
    }

    if (only == "fixed")
        results["fixed_rate"] = await FixedRateRun.RunAsync(ctx, targets, backend, Progress, tables);

    results["finished_utc"] = DateTime.UtcNow.ToString("O");
    results["loadavg_at_end"] = File.ReadAllText("/proc/loadavg").Trim();
    Console.WriteLine($"weft proxy bench --mtls{(ctx.Quick ? " --quick" : "")}: {Environment.ProcessorCount} cores, " +
        $"load average at start {results["loadavg_at_start"]}, at end {results["loadavg_at_end"]} (the cores are shared)");
    Console.WriteLine("2 hops: weft sidecar → sidecar over mTLS (TLS 1.3, h2) or h2c (--insecure-plaintext-mesh); haproxy → haproxy over TLS 1.3 + client cert, ALPN h2, nbthread 1 each");
    foreach (var table in tables) Console.Write(table);
    await File.WriteAllTextAsync(resultsFile, results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    Console.Write(Goals.RenderMtls(results, mesh.Unavailable));
    Console.WriteLine($"JSON: {resultsFile}");
    return;
}

if (ctx.Knobs is { } knobs)
{
    // Runtime knobs (issue 3's RSS and idle CPU): the one-hop path through one sidecar per knob, alternating.
    await using var backend = await Backend.StartAsync(ctx);
    await using var haproxy = await HaproxyTarget.StartAsync(ctx, backend);
    await using var mesh = await WeftMesh.StartAsync(ctx, backend, Progress);
    List<Target> targets = [new DirectTarget(backend), haproxy];
    if (mesh.Unavailable is not null) Progress($"weft {mesh.Unavailable}");
    else targets.AddRange(knobs.Select((_, i) => (Target)WeftTarget.Knob(mesh, i)));
    var idleRss = targets.Where(t => t.Unavailable is null && t.ProxyPids().Count > 0).ToDictionary(t => t.Name, t => ProcStats.RssKiB(t.ProxyPids()));
    results["idle_rss_kib"] = new JsonObject(idleRss.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
    results["knobs"] = new JsonObject(knobs.Select(k => KeyValuePair.Create(k.Name, (JsonNode?)k.Describe())));
    if (Runs("http1"))
    {
        results["http1"] = await ClosedLoopRun.RunAsync(ctx,
            $"Knobs, HTTP/1.1: wrk -t1 -c{ctx.WrkConnections} -d{ctx.LoadSeconds}s, median of {ctx.Rounds} alternating rounds",
            "http1", targets, backend, idleRss, Loads.WrkAsync, Progress, tables);
    }

    // Only when asked (--only http2): knobs of the h2c-from-the-app path, e.g. WEFT_DIRECT_RAW=0.
    if (only == "http2")
    {
        results["http2"] = await ClosedLoopRun.RunAsync(ctx,
            $"Knobs, HTTP/2 (h2c, prior knowledge): h2load -t1 -c{ctx.H2Connections} -m{ctx.H2Streams} -D{ctx.LoadSeconds}, median of {ctx.Rounds} alternating rounds",
            "http2", targets, backend, idleRss, Loads.H2loadAsync, Progress, tables);
    }

    if (Runs("fixed"))
        results["fixed_rate"] = await FixedRateRun.RunAsync(ctx, targets, backend, Progress, tables);
    var afterRss = targets.Where(t => t.Unavailable is null && t.ProxyPids().Count > 0).ToDictionary(t => t.Name, t => ProcStats.RssKiB(t.ProxyPids()));
    results["after_rss_kib"] = new JsonObject(afterRss.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
    if (mesh.Unavailable is null) tables.Add(KnobRun.Summary(results, knobs, afterRss));

    results["finished_utc"] = DateTime.UtcNow.ToString("O");
    results["loadavg_at_end"] = File.ReadAllText("/proc/loadavg").Trim();
    Console.WriteLine($"weft proxy bench --knobs{(ctx.Quick ? " --quick" : "")}: {Environment.ProcessorCount} cores, " +
        $"load average at start {results["loadavg_at_start"]}, at end {results["loadavg_at_end"]} (the cores are shared)");
    foreach (var table in tables) Console.Write(table);
    await File.WriteAllTextAsync(resultsFile, results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine($"JSON: {resultsFile}");
    return;
}

// Before anything else runs: the per-request cost of counting, timed on its own (about 1 s).
results["metrics_counting"] = CountingCost.Measure();
Progress($"metrics counting: {results["metrics_counting"]!["ns_per_request"]} ns per request (RouteStats.Record)");
results["tracing_cost"] = TracingCost.Measure();
Progress($"tracing at 1%: {results["tracing_cost"]!["ns_per_request"]} ns per request (decision, head rewrite, 1% spans)");
string? weftUnavailable;

await using (var backend = await Backend.StartAsync(ctx))
await using (var haproxy = await HaproxyTarget.StartAsync(ctx, backend))
await using (var nginx = await NginxTarget.StartAsync(ctx, backend))
await using (var mesh = await WeftMesh.StartAsync(ctx, backend, Progress))
{
    weftUnavailable = mesh.Unavailable;
    List<Target> targets = [new DirectTarget(backend), haproxy, nginx, WeftTarget.OneHop(mesh), WeftTarget.OneHopNoFastPath(mesh), WeftTarget.OneHopNoMetrics(mesh), WeftTarget.TwoHops(mesh), WeftTarget.TwoHopsLayered(mesh), WeftTarget.TwoHopsInboundYarp(mesh), WeftTarget.TracedOneHop(mesh)];
    if (ctx.WeftAot is not null) targets.Add(WeftTarget.OneHopAot(mesh));
    targets = Chosen(targets);
    Progress($"backend nginx on {backend.Port} (h2c {backend.H2Port}); " +
        string.Join(", ", targets.Select(t => t.Unavailable is null ? $"{t.Name} at {t.Http1}" : $"{t.Name}: {t.Unavailable}")));

    // Before any load: what each proxy holds when it has carried nothing (weft's sidecars have synced config).
    var idleRss = targets.Where(t => t.Unavailable is null && t.ProxyPids().Count > 0).ToDictionary(t => t.Name, t => ProcStats.RssKiB(t.ProxyPids()));
    results["idle_rss_kib"] = new JsonObject(idleRss.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));

    if (Runs("http1"))
    {
        results["http1"] = await ClosedLoopRun.RunAsync(ctx,
            $"HTTP/1.1: wrk -t1 -c{ctx.WrkConnections} -d{ctx.LoadSeconds}s, median of {ctx.Rounds} alternating rounds",
            "http1", targets, backend, idleRss, Loads.WrkAsync, Progress, tables);
    }

    if (Runs("http2"))
    {
        results["http2"] = await ClosedLoopRun.RunAsync(ctx,
            $"HTTP/2 (h2c, prior knowledge): h2load -t1 -c{ctx.H2Connections} -m{ctx.H2Streams} -D{ctx.LoadSeconds}, proxies speak HTTP/1.1 to the backend, median of {ctx.Rounds}",
            "http2", targets, backend, idleRss, Loads.H2loadAsync, Progress, tables);
    }

    if (Runs("fixed"))
        results["fixed_rate"] = await FixedRateRun.RunAsync(ctx, targets, backend, Progress, tables);
}

results["finished_utc"] = DateTime.UtcNow.ToString("O");
results["loadavg_at_end"] = File.ReadAllText("/proc/loadavg").Trim();
Console.WriteLine($"weft proxy bench{(ctx.Quick ? " (--quick)" : "")}: {Environment.ProcessorCount} cores, " +
    $"load average at start {results["loadavg_at_start"]}, at end {results["loadavg_at_end"]} (the cores are shared)");
Console.WriteLine("backend: nginx, 1 worker, return 200 \"hello\"; haproxy 2.6 nbthread 1; nginx proxy 1 worker; RSS of all the proxy's processes");
foreach (var table in tables) Console.Write(table);
await File.WriteAllTextAsync(resultsFile, results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
Console.Write(Goals.Render(results, weftUnavailable));
Console.WriteLine($"JSON: {resultsFile}");
