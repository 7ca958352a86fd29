using System.Text.Json;
using System.Text.Json.Nodes;
using Weft.Bench.Registry;

// Usage: weft-bench-registry --weft-dll PATH --work-dir DIR --results FILE [--quick]
// run.sh builds both, makes the work dir, and cleans it (and any PID left in <work-dir>/pids) afterwards.
string? Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
var ctx = new BenchContext(
    Arg("--weft-dll") ?? throw new ArgumentException("--weft-dll is required"),
    Arg("--work-dir") ?? throw new ArgumentException("--work-dir is required"),
    args.Contains("--quick"));
// --only registrations|reads|wake|checks: one part, for development.
var only = Arg("--only");
bool Runs(string part) => only is null || only == part;
var resultsFile = Arg("--results") ?? throw new ArgumentException("--results is required");
var report = new Report();
var results = new JsonObject
{
    ["quick"] = ctx.Quick,
    ["started_utc"] = DateTime.UtcNow.ToString("O"),
    ["cores"] = Environment.ProcessorCount,
    ["loadavg_at_start"] = File.ReadAllText("/proc/loadavg").Trim(),
};

if (Runs("registrations"))
    results["registrations"] = await RegistrationBench.RunAsync(ctx, report);

await using (var weft = await WeftProcess.StartAsync(ctx, "reads"))
{
    using var client = BenchContext.Client(4, TimeSpan.FromSeconds(10));
    for (var i = 0; i < 10; i++)
        await WeftApi.RegisterAsync(client, weft.Address, WeftApi.Registration($"read-target-{i}", "read-target", 7000 + i));
    var body = await client.GetByteArrayAsync(new Uri(weft.Address, NginxProcess.ReadPath));
    report.Progress($"reads: body is {body.Length} bytes");

    await using var nginx = await NginxProcess.StartAsync(ctx, body);
    if (Runs("reads"))
    {
        results["reads"] = await ReadBench.RunAsync(ctx, weft, nginx, report);
        results["reads"]!["body_bytes"] = body.Length;
    }

    if (Runs("wake"))
        results["wake"] = await WakeBench.RunAsync(ctx, weft, report);
    if (Runs("checks"))
        results["checks"] = await ChecksBench.RunAsync(ctx, nginx, report);
}

results["finished_utc"] = DateTime.UtcNow.ToString("O");
results["loadavg_at_end"] = File.ReadAllText("/proc/loadavg").Trim();
Console.WriteLine($"weft registry bench{(ctx.Quick ? " (--quick)" : "")}: {Environment.ProcessorCount} cores, " +
    $"load average at start {results["loadavg_at_start"]}, at end {results["loadavg_at_end"]} (the cores are shared)");
Console.WriteLine(report.Table);
await File.WriteAllTextAsync(resultsFile, results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"JSON: {resultsFile}");
