using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Weft.Bench.Registry;

/// <summary>
/// Durable registrations/s: C clients registering unique instances (no checks) on a fresh server, against a
/// raw SQLite writer on the same disk committing per row and in groups of the batch size the server reached.
/// Repetitions alternate server and raw runs so a noisy neighbour hurts both alike.
/// </summary>
internal static class RegistrationBench
{
    public static async Task<JsonObject> RunAsync(BenchContext ctx, Report report)
    {
        var weftRate = new List<double>();
        var p50 = new List<double>();
        var p99 = new List<double>();
        var batches = new List<double>();
        var perRow = new List<double>();
        var grouped = new List<double>();
        var groupedAtC = new List<double>();
        var serverCpu = new List<double>();
        var clientCpu = new List<double>();
        var failed = 0;
        List<(string, int, double)> threads = [];

        for (var rep = 1; rep <= ctx.Repetitions; rep++)
        {
            await using (var weft = await WeftProcess.StartAsync(ctx, $"reg{rep}"))
            {
                // Warm-up, not counted: JIT and connection setup belong to start-up, not to the rate.
                await WeftApi.RegisterManyAsync(weft.Address, ctx.Clients, 1_000, TimeSpan.FromSeconds(15),
                    i => WeftApi.Registration($"warm-{i}", "warm", 8000));
                using var probe = BenchContext.Client(2, TimeSpan.FromSeconds(10));
                var before = await WeftApi.IndexAsync(probe, weft.Address);
                var cpu0 = ProcStats.CpuTicks(weft.Pid);
                var threads0 = ProcStats.ThreadTicks(weft.Pid);
                var self0 = Process.GetCurrentProcess().TotalProcessorTime;
                var load = await WeftApi.RegisterManyAsync(weft.Address, ctx.Clients, ctx.Registrations, ctx.RegistrationCap,
                    i => WeftApi.Registration($"reg-{i}", $"reg-{i % 100}", 8000 + i % 1000));
                var self1 = Process.GetCurrentProcess().TotalProcessorTime;
                var cpu1 = ProcStats.CpuTicks(weft.Pid);
                threads = ProcStats.TopThreads(threads0, ProcStats.ThreadTicks(weft.Pid), load.Seconds, 4);
                var after = await WeftApi.IndexAsync(probe, weft.Address);
                var commits = Math.Max(1, after - before);

                weftRate.Add(load.PerSecond);
                p50.Add(Stats.Percentile(load.LatenciesMs, 50));
                p99.Add(Stats.Percentile(load.LatenciesMs, 99));
                batches.Add((double)load.Acked / commits);
                serverCpu.Add((cpu1 - cpu0) / ProcStats.TicksPerSecond / load.Seconds * 100);
                clientCpu.Add((self1 - self0).TotalSeconds / load.Seconds * 100);
                failed += load.Failed;
                report.Progress($"registrations rep {rep}: {load.Acked} acked, {load.Failed} failed in {load.Seconds:F1} s = {load.PerSecond:F0}/s, {commits} commits (mean batch {batches[^1]:F1})");
            }

            var batch = Math.Max(1, (int)Math.Round(batches[^1]));
            var (rows1, s1) = RawSqlite.Run(ctx.WorkDir, 1, ctx.RawPerRowCount, ctx.RawCap);
            perRow.Add(rows1 / s1);
            var (rowsB, sB) = RawSqlite.Run(ctx.WorkDir, batch, ctx.Registrations, ctx.RawCap);
            grouped.Add(rowsB / sB);
            var (rowsC, sC) = RawSqlite.Run(ctx.WorkDir, ctx.Clients, ctx.Registrations, ctx.RawCap);
            groupedAtC.Add(rowsC / sC);
            report.Progress($"raw sqlite rep {rep}: per-row {perRow[^1]:F0}/s, batch {batch} {grouped[^1]:F0}/s, batch {ctx.Clients} {groupedAtC[^1]:F0}/s");
        }

        var rate = Stats.Median(weftRate);
        var groupRate = Stats.Median(grouped);
        report.Section($"1. Durable registrations ({ctx.Clients} clients, {ctx.Registrations:N0} per rep, cap {ctx.RegistrationCap.TotalSeconds:F0} s, median of {ctx.Repetitions}, after 1,000 warm-up)");
        report.Row("weft registrations/s", $"{rate:F0}", "goal >= 2,000/s");
        report.Row("weft ack latency p50 / p99", $"{Stats.Median(p50):F1} / {Stats.Median(p99):F1} ms", "");
        report.Row("weft mean batch per commit", $"{Stats.Median(batches):F1} rows", "from X-Consul-Index steps");
        report.Row("raw SQLite, commit per row", $"{Stats.Median(perRow):F0} rows/s", $"weft = {rate / Stats.Median(perRow):F1}x");
        report.Row($"raw SQLite, commit per {Math.Round(Stats.Median(batches)):F0} rows", $"{groupRate:F0} rows/s", $"weft = {rate / groupRate:P0} of it");
        report.Row($"raw SQLite, commit per {ctx.Clients} rows", $"{Stats.Median(groupedAtC):F0} rows/s", $"weft = {rate / Stats.Median(groupedAtC):P0} of it");
        report.Row("server CPU / bench client CPU", $"{Stats.Median(serverCpu):F0}% / {Stats.Median(clientCpu):F0}%", "of one core, during the load");
        report.Row("failed registrations (all reps)", $"{failed}", "");
        report.Row("busiest server threads (last rep)", string.Join(", ", threads.Select(t => $"{t.Item1} x{t.Item2} {t.Item3:F0}%")), "");

        return new JsonObject
        {
            ["clients"] = ctx.Clients,
            ["registrations_per_rep"] = ctx.Registrations,
            ["weft_per_second"] = Json.Array(weftRate),
            ["weft_per_second_median"] = rate,
            ["ack_p50_ms"] = Json.Array(p50),
            ["ack_p99_ms"] = Json.Array(p99),
            ["mean_batch"] = Json.Array(batches),
            ["raw_per_row_per_second"] = Json.Array(perRow),
            ["raw_same_batch_per_second"] = Json.Array(grouped),
            ["raw_batch_of_clients_per_second"] = Json.Array(groupedAtC),
            ["server_cpu_percent"] = Json.Array(serverCpu),
            ["client_cpu_percent"] = Json.Array(clientCpu),
            ["failed"] = failed,
            ["goal_per_second"] = 2000,
        };
    }
}
