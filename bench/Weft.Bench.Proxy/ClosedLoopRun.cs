using System.Text.Json.Nodes;

namespace Weft.Bench.Proxy;

/// <summary>
/// The same closed-loop load against every target, alternating: round 1 runs each target once, round 2 again
/// in a rotated order, and so on, so drift on the shared cores lands on every target alike.
/// Reports medians over the rounds (peak RSS: the highest of any round).
/// </summary>
internal static class ClosedLoopRun
{
    public delegate Task<LoadResult> Load(BenchContext ctx, Target target, Backend backend, int seconds);

    public static async Task<JsonObject> RunAsync(BenchContext ctx, string title, string label, IReadOnlyList<Target> targets, Backend backend,
        Dictionary<string, long> idleRssKiB, Load load, Action<string> progress, List<Table> tables)
    {
        var runnable = targets.Where(t => t.Unavailable is null).ToList();
        // A target that fails (a load tool exits non-zero, a proxy dies) is dropped from the later rounds and
        // reported; the others still run.
        var failed = new Dictionary<string, string>();
        async Task<LoadResult?> TryLoad(Target target, int seconds, string what)
        {
            try
            {
                return await load(ctx, target, backend, seconds);
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or FormatException or IOException)
            {
                failed[target.Name] = $"failed in {what}: {e.Message.Split('\n')[0]}";
                progress($"{label} {target.Name} {failed[target.Name]}{Environment.NewLine}{e.Message}");
                return null;
            }
        }

        foreach (var target in runnable)
        {
            progress($"{label}: warming up {target.Name} ({ctx.WarmUpSeconds} s, not counted)");
            await TryLoad(target, ctx.WarmUpSeconds, "warm-up");
        }

        var rounds = runnable.ToDictionary(t => t.Name, _ => new List<LoadResult>());
        // The round each of those results ran in, so that two targets' runs next to each other can be paired (Paired).
        var roundOf = new Dictionary<LoadResult, int>(ReferenceEqualityComparer.Instance);
        for (var round = 0; round < ctx.Rounds; round++)
        {
            for (var i = 0; i < runnable.Count; i++)
            {
                var target = runnable[(i + round) % runnable.Count];
                if (failed.ContainsKey(target.Name)) continue;
                if (await TryLoad(target, ctx.LoadSeconds, $"round {round + 1}") is not { } result) continue;
                rounds[target.Name].Add(result);
                roundOf[result] = round + 1;
                progress($"{label} round {round + 1}/{ctx.Rounds} {target.Name}: {result.RequestsPerSecond:F0} req/s, p99 {result.P99Ms:F2} ms, " +
                    $"proxy {result.ProxyCpuUsPerRequest:F1} µs/req, backend {result.BackendCorePercent:F0}% of a core, machine {result.Sample.MachineBusyPercent:F0}% busy, {result.Errors} errors");
            }
        }

        double Median(string name, Func<LoadResult, double> f) =>
            rounds.TryGetValue(name, out var r) ? Stats.Median(r.Select(f).Where(double.IsFinite).ToList()) : double.NaN;
        var directRps = Median("direct", r => r.RequestsPerSecond);
        var haproxyRps = Median("haproxy", r => r.RequestsPerSecond);
        var haproxyCpu = Median("haproxy", r => r.ProxyCpuUsPerRequest);
        // The reference of the per-round columns: HAProxy in front of the backend, or the TLS pair of the mTLS run.
        var reference = rounds.ContainsKey("haproxy") ? "haproxy" : rounds.ContainsKey(HaproxyTlsPairTarget.TargetName) ? HaproxyTlsPairTarget.TargetName : null;

        // The target over the reference in each round both ran: the median and range of those ratios.
        string PerRound(string name, Func<LoadResult, double> f)
        {
            if (reference is null || name == reference) return "-";
            return Paired.Describe(Paired.Ratios(rounds[name].Select(x => (roundOf[x], f(x))), rounds[reference].Select(x => (roundOf[x], f(x)))));
        }

        var table = new Table(title, "target", "req/s", "vs direct", "vs haproxy", "p50 ms", "p99 ms", "proxy CPU µs/req", "vs haproxy",
            "proxy %core", "backend %core", "machine busy %", "RSS idle MB", "RSS max MB", "errors",
            $"req/s vs {reference ?? "haproxy"}, per round", $"CPU/req vs {reference ?? "haproxy"}, per round");
        var json = new JsonObject();
        foreach (var target in targets)
        {
            var r = rounds.GetValueOrDefault(target.Name) ?? [];
            if (table.SkipUnusable(target, r.Count, failed, json)) continue;

            var rps = Median(target.Name, x => x.RequestsPerSecond);
            var cpu = Median(target.Name, x => x.ProxyCpuUsPerRequest);
            var idle = idleRssKiB.GetValueOrDefault(target.Name);
            var maxRss = r.Max(x => x.Sample.MaxRssKiB);
            var roundsJson = new JsonArray(r.Select(x =>
            {
                var o = x.ToJson();
                o["round"] = roundOf[x];
                return (JsonNode)o;
            }).ToArray());
            table.Row(target.Name, Table.F(rps), Table.Ratio(rps, directRps), Table.Ratio(rps, haproxyRps),
                Table.F(Median(target.Name, x => x.P50Ms), 3), Table.F(Median(target.Name, x => x.P99Ms), 3),
                Table.F(cpu, 1), Table.Ratio(cpu, haproxyCpu),
                Table.F(Median(target.Name, x => x.ProxyCorePercent)), Table.F(Median(target.Name, x => x.BackendCorePercent)),
                Table.F(Median(target.Name, x => x.Sample.MachineBusyPercent)),
                Table.Mb(idle), Table.Mb(maxRss), r.Sum(x => x.Errors).ToString(System.Globalization.CultureInfo.InvariantCulture),
                PerRound(target.Name, x => x.RequestsPerSecond), PerRound(target.Name, x => x.ProxyCpuUsPerRequest));
            json[target.Name] = new JsonObject
            {
                ["median_rps"] = LoadResult.Round(rps),
                ["rps_vs_direct"] = LoadResult.Round(rps / directRps),
                ["rps_vs_haproxy"] = LoadResult.Round(rps / haproxyRps),
                ["median_proxy_cpu_us_per_request"] = LoadResult.Round(cpu),
                ["median_server_sidecar_cpu_us_per_request"] = LoadResult.Round(Median(target.Name, x => x.LastProcessCpuUsPerRequest)),
                ["proxy_cpu_vs_haproxy"] = LoadResult.Round(cpu / haproxyCpu),
                ["idle_rss_kib"] = idle,
                ["max_rss_kib"] = maxRss,
                ["rounds"] = roundsJson,
            };
        }

        tables.Add(table);
        return json;
    }
}
