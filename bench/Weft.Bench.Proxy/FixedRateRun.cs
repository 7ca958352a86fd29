using System.Globalization;
using System.Text.Json.Nodes;

namespace Weft.Bench.Proxy;

/// <summary>
/// 1,000 requests/s open-loop over HTTP/1.1 against every target, alternating as the closed-loop runs do, and
/// the p99 each adds over direct, per hop. Medians over the rounds.
/// </summary>
internal static class FixedRateRun
{
    public static async Task<JsonObject> RunAsync(BenchContext ctx, IReadOnlyList<Target> targets, Backend backend, Action<string> progress, List<Table> tables)
    {
        var runnable = targets.Where(t => t.Unavailable is null).ToList();
        var rounds = runnable.ToDictionary(t => t.Name, _ => new List<(OpenLoopResult Load, Sample Sample)>());
        var failed = new Dictionary<string, string>();
        foreach (var target in runnable)
        {
            // Uncounted, as in the closed-loop runs: a JIT-compiled proxy run on its own (--only fixed) is otherwise cold.
            progress($"fixed rate: warming up {target.Name} ({ctx.WarmUpSeconds} s, not counted)");
            try
            {
                await Task.Run(() => OpenLoop.Run(target.Http1!, target.Host, ctx.FixedRate, ctx.WarmUpSeconds, ctx.FixedRateConnections));
            }
            catch (System.Net.Sockets.SocketException e)
            {
                failed[target.Name] = $"failed in warm-up: {e.Message}";
            }
        }

        for (var round = 0; round < ctx.Rounds; round++)
        {
            for (var i = 0; i < runnable.Count; i++)
            {
                var target = runnable[(i + round) % runnable.Count];
                if (failed.ContainsKey(target.Name)) continue;
                await using var sampler = new Sampler(target.ProxyPids(), backend.Pids());
                OpenLoopResult load;
                try
                {
                    load = await Task.Run(() => OpenLoop.Run(target.Http1!, target.Host, ctx.FixedRate, ctx.FixedRateSeconds, ctx.FixedRateConnections));
                }
                catch (System.Net.Sockets.SocketException e)
                {
                    failed[target.Name] = $"failed in round {round + 1}: {e.Message}";
                    progress($"fixed rate {target.Name} {failed[target.Name]}");
                    continue;
                }

                var sample = await sampler.StopAsync();
                rounds[target.Name].Add((load, sample));
                progress($"fixed rate round {round + 1}/{ctx.Rounds} {target.Name}: {load.SentPerSecond:F0}/s sent, " +
                    $"p99 {Stats.Percentile(load.FromSendMs, 99):F3} ms from send, {Stats.Percentile(load.FromDueMs, 99):F3} ms from due, {load.Errors} errors");
            }
        }

        double Median(string name, Func<(OpenLoopResult Load, Sample Sample), double> f) =>
            rounds.TryGetValue(name, out var r) ? Stats.Median(r.Select(f).Where(double.IsFinite).ToList()) : double.NaN;
        double P99Send(string name) => Median(name, x => Stats.Percentile(x.Load.FromSendMs, 99));
        double P99Due(string name) => Median(name, x => Stats.Percentile(x.Load.FromDueMs, 99));
        var directSend = P99Send("direct");
        var directDue = P99Due("direct");

        var table = new Table($"Fixed rate: {ctx.FixedRate:N0} req/s open-loop HTTP/1.1 for {ctx.FixedRateSeconds} s over {ctx.FixedRateConnections} keep-alive connections, median of {ctx.Rounds}",
            "target", "sent/s", "p50 ms", "p99 ms", "added p99 ms", "added p99/hop", "p99.9 ms", "p99 from due", "added (due)", "proxy CPU µs/req", "errors");
        var json = new JsonObject();
        foreach (var target in targets)
        {
            var r = rounds.GetValueOrDefault(target.Name) ?? [];
            if (table.SkipUnusable(target, r.Count, failed, json)) continue;

            var p99 = P99Send(target.Name);
            var p99Due = P99Due(target.Name);
            var cpu = Median(target.Name, x => x.Sample.HasProxy && x.Load.FromSendMs.Count > 0 ? x.Sample.ProxyCpuSeconds * 1e6 / x.Load.FromSendMs.Count : double.NaN);
            var added = target.Hops == 0 ? double.NaN : p99 - directSend;
            table.Row(target.Name, Table.F(Median(target.Name, x => x.Load.SentPerSecond)),
                Table.F(Median(target.Name, x => Stats.Percentile(x.Load.FromSendMs, 50)), 3), Table.F(p99, 3),
                Table.F(added, 3), Table.F(target.Hops == 0 ? double.NaN : added / target.Hops, 3),
                Table.F(Median(target.Name, x => Stats.Percentile(x.Load.FromSendMs, 99.9)), 3),
                Table.F(p99Due, 3), Table.F(target.Hops == 0 ? double.NaN : p99Due - directDue, 3), Table.F(cpu, 1),
                r.Sum(x => x.Load.Errors).ToString(CultureInfo.InvariantCulture));
            json[target.Name] = new JsonObject
            {
                ["hops"] = target.Hops,
                ["median_p99_ms_from_send"] = LoadResult.Round(p99),
                ["added_p99_ms"] = LoadResult.Round(added),
                ["added_p99_ms_per_hop"] = LoadResult.Round(added / target.Hops),
                ["median_p99_ms_from_due"] = LoadResult.Round(p99Due),
                ["median_proxy_cpu_us_per_request"] = LoadResult.Round(cpu),
                ["rounds"] = new JsonArray(r.Select(x => (JsonNode)new JsonObject
                {
                    ["scheduled"] = x.Load.Scheduled,
                    ["errors"] = x.Load.Errors,
                    ["sent_per_second"] = LoadResult.Round(x.Load.SentPerSecond),
                    ["waited_for_idle_connection"] = x.Load.WaitedForConnection,
                    ["from_send_ms"] = Percentiles(x.Load.FromSendMs),
                    ["from_due_ms"] = Percentiles(x.Load.FromDueMs),
                    ["proxy_cpu_seconds"] = LoadResult.Round(x.Sample.ProxyCpuSeconds),
                    ["machine_busy_percent"] = LoadResult.Round(x.Sample.MachineBusyPercent),
                }).ToArray()),
            };
        }

        table.Note("Latency is from when a request was written; \"from due\" counts from its slot in the schedule (wrk2's way),");
        table.Note("which adds the sender's own wake-up lateness to every target alike. Added = target p99 - direct p99.");
        tables.Add(table);
        return json;
    }

    private static JsonObject Percentiles(List<double> ms) => new()
    {
        ["p50"] = LoadResult.Round(Stats.Percentile(ms, 50)),
        ["p90"] = LoadResult.Round(Stats.Percentile(ms, 90)),
        ["p99"] = LoadResult.Round(Stats.Percentile(ms, 99)),
        ["p99_9"] = LoadResult.Round(Stats.Percentile(ms, 99.9)),
        ["max"] = LoadResult.Round(Stats.Max(ms)),
    };
}
