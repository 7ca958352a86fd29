using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Weft.Bench.Registry;

/// <summary>
/// Reads/s: wrk against <c>/v1/health/service/read-target</c> (10 instances) and against nginx serving the
/// same body bytes, alternating, same wrk settings.
/// </summary>
internal static partial class ReadBench
{
    public sealed record WrkResult(double RequestsPerSecond, double P50Ms, double P99Ms, long Errors);

    public static async Task<JsonObject> RunAsync(BenchContext ctx, WeftProcess weft, NginxProcess nginx, Report report)
    {
        var weftRuns = new List<WrkResult>();
        var nginxRuns = new List<WrkResult>();
        var serverCpu = new List<double>();
        var target = new Uri(weft.Address, NginxProcess.ReadPath).ToString();
        var reference = $"http://127.0.0.1:{nginx.Port}{NginxProcess.ReadPath}";
        for (var rep = 1; rep <= ctx.Repetitions; rep++)
        {
            var cpu0 = ProcStats.CpuTicks(weft.Pid);
            var started = Stopwatch.GetTimestamp();
            weftRuns.Add(await WrkAsync(ctx, target));
            serverCpu.Add((ProcStats.CpuTicks(weft.Pid) - cpu0) / ProcStats.TicksPerSecond / Stopwatch.GetElapsedTime(started).TotalSeconds * 100);
            nginxRuns.Add(await WrkAsync(ctx, reference));
            report.Progress($"reads rep {rep}: weft {weftRuns[^1].RequestsPerSecond:F0}/s, nginx {nginxRuns[^1].RequestsPerSecond:F0}/s");
        }

        var weftRps = Stats.Median(weftRuns.Select(r => r.RequestsPerSecond).ToList());
        var nginxRps = Stats.Median(nginxRuns.Select(r => r.RequestsPerSecond).ToList());
        report.Section($"2. Reads: wrk -t2 -c50 -d{ctx.WrkDuration} GET /v1/health/service/read-target (10 instances), median of {ctx.Repetitions}");
        report.Row("weft requests/s", $"{weftRps:F0}", $"{weftRps / nginxRps:P0} of nginx");
        report.Row("weft latency p50 / p99", $"{Stats.Median(weftRuns.Select(r => r.P50Ms).ToList()):F2} / {Stats.Median(weftRuns.Select(r => r.P99Ms).ToList()):F2} ms", "");
        report.Row("nginx (same body bytes) requests/s", $"{nginxRps:F0}", "");
        report.Row("nginx latency p50 / p99", $"{Stats.Median(nginxRuns.Select(r => r.P50Ms).ToList()):F2} / {Stats.Median(nginxRuns.Select(r => r.P99Ms).ToList()):F2} ms", "");
        report.Row("weft server CPU during its runs", $"{Stats.Median(serverCpu):F0}%", "of one core (2 cores shared with wrk)");
        report.Row("errors / non-2xx (weft, nginx)", $"{weftRuns.Sum(r => r.Errors)}, {nginxRuns.Sum(r => r.Errors)}", "");

        return new JsonObject
        {
            ["weft_rps"] = Json.Array(weftRuns.Select(r => r.RequestsPerSecond)),
            ["weft_p50_ms"] = Json.Array(weftRuns.Select(r => r.P50Ms)),
            ["weft_p99_ms"] = Json.Array(weftRuns.Select(r => r.P99Ms)),
            ["nginx_rps"] = Json.Array(nginxRuns.Select(r => r.RequestsPerSecond)),
            ["nginx_p50_ms"] = Json.Array(nginxRuns.Select(r => r.P50Ms)),
            ["nginx_p99_ms"] = Json.Array(nginxRuns.Select(r => r.P99Ms)),
            ["weft_rps_median"] = weftRps,
            ["nginx_rps_median"] = nginxRps,
            ["ratio_to_nginx"] = weftRps / nginxRps,
            ["weft_server_cpu_percent"] = Json.Array(serverCpu),
            ["errors_weft"] = weftRuns.Sum(r => r.Errors),
            ["errors_nginx"] = nginxRuns.Sum(r => r.Errors),
        };
    }

    private static async Task<WrkResult> WrkAsync(BenchContext ctx, string url)
    {
        var info = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-t2", "-c50", $"-d{ctx.WrkDuration}", "--timeout", "5s", "--latency", url })
            info.ArgumentList.Add(a);
        using var wrk = Process.Start(info) ?? throw new InvalidOperationException("could not start wrk");
        File.AppendAllText(Path.Combine(ctx.WorkDir, "pids"), $"{wrk.Id}\n");
        var output = wrk.StandardOutput.ReadToEndAsync();
        var errors = wrk.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await wrk.WaitForExitAsync(deadline.Token);
        var text = await output;
        if (wrk.ExitCode != 0) throw new InvalidOperationException($"wrk failed: {text} {await errors}");

        var rps = double.Parse(RequestsPerSecond().Match(text).Groups[1].Value, CultureInfo.InvariantCulture);
        var socketErrors = SocketErrors().Match(text) is { Success: true } m
            ? m.Groups.Cast<Group>().Skip(1).Sum(g => long.Parse(g.Value, CultureInfo.InvariantCulture))
            : 0;
        var non2xx = Non2xx().Match(text) is { Success: true } n ? long.Parse(n.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        return new WrkResult(rps, Latency(text, "50%"), Latency(text, "99%"), socketErrors + non2xx);
    }

    private static double Latency(string text, string percentile)
    {
        var m = Regex.Match(text, $@"^\s+{Regex.Escape(percentile)}\s+([\d.]+)(us|ms|s)\s*$", RegexOptions.Multiline);
        if (!m.Success) return double.NaN;
        var value = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return m.Groups[2].Value switch { "us" => value / 1000, "ms" => value, _ => value * 1000 };
    }

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketErrors();

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex Non2xx();
}
