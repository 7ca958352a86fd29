using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Weft.Bench.Registry;

/// <summary>
/// N instances, each with one HTTP check every 10 s against nginx's <c>/health</c>. Once all report passing,
/// the server's CPU (utime+stime) and RSS are sampled over a quiet window, and nginx's log counts the probes.
/// </summary>
internal static class ChecksBench
{
    private const string Prefix = "chk-";

    public static async Task<JsonObject> RunAsync(BenchContext ctx, NginxProcess nginx, Report report)
    {
        await using var weft = await WeftProcess.StartAsync(ctx, "checks");
        var idleRssMiB = ProcStats.RssKiB(weft.Pid) / 1024.0;
        var checkUrl = $"http://127.0.0.1:{nginx.Port}/health";
        var load = await WeftApi.RegisterManyAsync(weft.Address, ctx.Clients, ctx.CheckedInstances, TimeSpan.FromSeconds(120),
            i => WeftApi.Registration($"{Prefix}{i}", $"{Prefix}{i % 100}", 10_000 + i % 1000, checkUrl));
        report.Progress($"checks: registered {load.Acked} instances with checks in {load.Seconds:F1} s ({load.Failed} failed)");

        var waitStarted = Stopwatch.GetTimestamp();
        var passing = await WaitAllPassingAsync(weft, load.Acked, TimeSpan.FromSeconds(90));
        var allPassingAfter = Stopwatch.GetElapsedTime(waitStarted).TotalSeconds;
        report.Progress($"checks: {passing}/{load.Acked} passing after {allPassingAfter:F1} s; sampling for {ctx.CheckWindow.TotalSeconds:F0} s");

        using var probe = BenchContext.Client(1, TimeSpan.FromSeconds(10));
        var index0 = await WeftApi.IndexAsync(probe, weft.Address);
        var rss = new List<double>();
        var cpu0 = ProcStats.CpuTicks(weft.Pid);
        var threads0 = ProcStats.ThreadTicks(weft.Pid);
        var probes0 = nginx.HealthRequests();
        var started = Stopwatch.GetTimestamp();
        var window = ctx.CheckWindow;
        for (var second = 1; second <= (int)window.TotalSeconds + 5; second++)
        {
            rss.Add(ProcStats.RssKiB(weft.Pid) / 1024.0);
            var next = TimeSpan.FromSeconds(second) - Stopwatch.GetElapsedTime(started);
            if (next > TimeSpan.Zero) await Task.Delay(next);
            if (Stopwatch.GetElapsedTime(started) >= window) break;
        }

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var cpu = (ProcStats.CpuTicks(weft.Pid) - cpu0) / ProcStats.TicksPerSecond / seconds * 100;
        var probesPerSecond = (nginx.HealthRequests() - probes0) / seconds;
        var threads = ProcStats.TopThreads(threads0, ProcStats.ThreadTicks(weft.Pid), seconds, 4);
        rss.Add(ProcStats.RssKiB(weft.Pid) / 1024.0);
        var commits = await WeftApi.IndexAsync(probe, weft.Address) - index0;
        var expected = load.Acked / 10.0;

        report.Section($"4. {load.Acked:N0} instances x 1 HTTP check every 10 s (target: nginx /health), {seconds:F0} s window");
        report.Row("all checks passing after", passing == load.Acked ? $"{allPassingAfter:F1} s" : $"NOT REACHED: {passing}/{load.Acked}", "from the last registration ack");
        report.Row("server CPU", $"{cpu:F1}% of one core", "goal < 15%");
        report.Row("server RSS median / max", $"{Stats.Median(rss):F0} / {Stats.Max(rss):F0} MiB", $"goal < 200 MB (191 MiB); {idleRssMiB:F0} MiB before registering");
        report.Row("checks/s seen by nginx", $"{probesPerSecond:F0}", $"expected {expected:F0} (N / 10 s)");
        report.Row("catalog commits during the window", $"{commits}", "a probe writes only when status or output changes");
        report.Row("busiest server threads", string.Join(", ", threads.Select(t => $"{t.Name} x{t.Threads} {t.CpuPercent:F1}%")), "");

        return new JsonObject
        {
            ["instances"] = load.Acked,
            ["registration_failed"] = load.Failed,
            ["all_passing"] = passing == load.Acked,
            ["all_passing_after_s"] = allPassingAfter,
            ["window_s"] = seconds,
            ["cpu_percent_of_one_core"] = cpu,
            ["rss_mib_median"] = Stats.Median(rss),
            ["rss_mib_max"] = Stats.Max(rss),
            ["rss_mib_before_registering"] = idleRssMiB,
            ["checks_per_second"] = probesPerSecond,
            ["checks_per_second_expected"] = expected,
            ["commits_in_window"] = commits,
            ["goal_cpu_percent"] = 15,
            ["goal_rss_mb"] = 200,
        };
    }

    /// <summary>Polls the passing checks until all of ours are there or the deadline passes; returns the last count.</summary>
    private static async Task<int> WaitAllPassingAsync(WeftProcess weft, int expected, TimeSpan deadline)
    {
        using var client = BenchContext.Client(1, TimeSpan.FromSeconds(30));
        var started = Stopwatch.GetTimestamp();
        var count = 0;
        for (var attempt = 0; attempt < 1_000 && Stopwatch.GetElapsedTime(started) < deadline; attempt++)
        {
            await using (var body = await client.GetStreamAsync(new Uri(weft.Address, "/v1/health/state/passing")))
            {
                using var doc = await JsonDocument.ParseAsync(body);
                count = doc.RootElement.EnumerateArray().Count(c =>
                    c.TryGetProperty("ServiceID", out var id) && id.GetString()?.StartsWith(Prefix, StringComparison.Ordinal) == true);
            }

            if (count >= expected) return count;
            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        return count;
    }
}
