using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;

namespace Weft.Bench.Registry;

/// <summary>
/// Blocking-query wake latency: N watchers blocked on <c>/v1/health/service/watched</c>, then a change to an
/// unrelated service (which must wake none of them), then one registration of a <c>watched</c> instance.
/// Each watcher's latency is its response's arrival minus the write's acknowledgement (and minus its sending).
/// </summary>
internal static class WakeBench
{
    private const string Watched = "watched";

    public static async Task<JsonObject> RunAsync(BenchContext ctx, WeftProcess weft, Report report)
    {
        var written = new StrongBox<long>();
        using var watchers = new HttpClient(CountingStream.Handler(ctx.Watchers + 10, written)) { Timeout = TimeSpan.FromSeconds(90) };
        using var writer = BenchContext.Client(2, TimeSpan.FromSeconds(10));
        await WeftApi.RegisterAsync(writer, weft.Address, WeftApi.Registration("watched-0", Watched, 9000));
        await WeftApi.RegisterAsync(writer, weft.Address, WeftApi.Registration("unrelated-0", "unrelated", 9000));

        var sinceAck = new List<double>();
        var sinceSent = new List<double>();
        var wokenByUnrelated = 0;
        var stale = 0;
        var failed = 0;
        var rounds = 0;
        double wakeWallMs = 0, serverCpuMs = 0, clientCpuMs = 0;
        for (var round = 1; round <= ctx.WakeRounds; round++)
        {
            var index = await WeftApi.IndexAsync(writer, weft.Address, $"/v1/health/service/{Watched}");
            var url = new Uri(weft.Address, $"/v1/health/service/{Watched}?index={index}&wait=60s");
            var writtenBefore = Interlocked.Read(ref written.Value);
            var pending = Enumerable.Range(0, ctx.Watchers).Select(_ => WatchAsync(watchers, url)).ToArray();
            await WaitBlockedAsync(ctx, weft, written, writtenBefore, pending);

            // An unrelated change, then a window in which no watcher may answer.
            await WeftApi.RegisterAsync(writer, weft.Address, WeftApi.Registration($"unrelated-{round}", "unrelated", 9000 + round));
            await Task.WhenAny(Task.WhenAll(pending), Task.Delay(TimeSpan.FromMilliseconds(250)));
            wokenByUnrelated += pending.Count(p => p.IsCompleted);

            var serverCpu0 = ProcStats.CpuTicks(weft.Pid);
            var clientCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            var sent = Stopwatch.GetTimestamp();
            await WeftApi.RegisterAsync(writer, weft.Address, WeftApi.Registration($"watched-{round}", Watched, 9000 + round));
            var acked = Stopwatch.GetTimestamp();
            var all = Task.WhenAll(pending);
            if (await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(30))) != all)
                throw new TimeoutException($"round {round}: {pending.Count(p => !p.IsCompleted)} watchers not woken within 30 s of the write");
            wakeWallMs += Stats.Ms(sent, Stopwatch.GetTimestamp());
            serverCpuMs += (ProcStats.CpuTicks(weft.Pid) - serverCpu0) * 1000 / ProcStats.TicksPerSecond;
            clientCpuMs += (Process.GetCurrentProcess().TotalProcessorTime - clientCpu0).TotalMilliseconds;

            foreach (var (arrived, newIndex, ok) in await all)
            {
                if (!ok) { failed++; continue; }
                if (newIndex <= index) stale++;
                sinceAck.Add(Stats.Ms(acked, arrived));
                sinceSent.Add(Stats.Ms(sent, arrived));
            }

            rounds++;
            var last = sinceAck.TakeLast(ctx.Watchers).ToList();
            report.Progress($"wake round {round}: after ack min {last.Min():F1} p10 {Stats.Percentile(last, 10):F1} p50 {Stats.Percentile(last, 50):F1} max {last.Max():F1} ms; " +
                $"write ack took {Stats.Ms(sent, acked):F1} ms; server threads {Directory.GetDirectories($"/proc/{weft.Pid}/task").Length}");
        }

        var p99 = Stats.Percentile(sinceAck, 99);
        report.Section($"3. Blocking-query wake latency ({ctx.Watchers:N0} watchers x {rounds} rounds)");
        report.Row("after write ack: p50 / p99 / max", $"{Stats.Percentile(sinceAck, 50):F1} / {p99:F1} / {Stats.Max(sinceAck):F1} ms", "goal p99 < 50 ms");
        report.Row("after write sent: p50 / p99 / max", $"{Stats.Percentile(sinceSent, 50):F1} / {Stats.Percentile(sinceSent, 99):F1} / {Stats.Max(sinceSent):F1} ms", "");
        report.Row("unrelated change woke watchers", wokenByUnrelated == 0 ? "none (OK)" : $"{wokenByUnrelated} (WRONG)",
            $"observed 250 ms after each of {rounds} unrelated acks");
        report.Row("CPU while waking: server / bench client", $"{serverCpuMs / wakeWallMs:P0} / {clientCpuMs / wakeWallMs:P0}",
            $"of one core, over {wakeWallMs:F0} ms from write sent to last response");
        report.Row("responses without a newer index / failed", $"{stale} / {failed}", "");

        return new JsonObject
        {
            ["watchers"] = ctx.Watchers,
            ["rounds"] = rounds,
            ["after_ack_p50_ms"] = Stats.Percentile(sinceAck, 50),
            ["after_ack_p99_ms"] = p99,
            ["after_ack_max_ms"] = Stats.Max(sinceAck),
            ["after_sent_p50_ms"] = Stats.Percentile(sinceSent, 50),
            ["after_sent_p99_ms"] = Stats.Percentile(sinceSent, 99),
            ["after_sent_max_ms"] = Stats.Max(sinceSent),
            ["woken_by_unrelated"] = wokenByUnrelated,
            ["stale"] = stale,
            ["failed"] = failed,
            ["goal_p99_ms"] = 50,
            ["wake_wall_ms_total"] = wakeWallMs,
            ["server_cpu_ms_while_waking"] = serverCpuMs,
            ["client_cpu_ms_while_waking"] = clientCpuMs,
        };
    }

    private static async Task<(long Arrived, ulong Index, bool Ok)> WatchAsync(HttpClient client, Uri url)
    {
        try
        {
            using var response = await client.GetAsync(url);
            var arrived = Stopwatch.GetTimestamp();
            if (!response.IsSuccessStatusCode) return (arrived, 0, false);
            return (arrived, ulong.Parse(response.Headers.GetValues("X-Consul-Index").First(), CultureInfo.InvariantCulture), true);
        }
        catch (HttpRequestException)
        {
            return (Stopwatch.GetTimestamp(), 0, false);
        }
    }

    /// <summary>
    /// Waits until every watcher's request has been written, delivered and read by the server: the client
    /// counted N request writes, and every loopback socket to the server has empty send and receive queues.
    /// </summary>
    private static async Task WaitBlockedAsync(BenchContext ctx, WeftProcess weft, StrongBox<long> written, long before, Task[] pending)
    {
        var deadline = Stopwatch.GetTimestamp() + 30 * Stopwatch.Frequency;
        for (var attempt = 0; attempt < 3_000 && Stopwatch.GetTimestamp() < deadline; attempt++)
        {
            if (pending.Any(p => p.IsCompleted))
                throw new InvalidOperationException("a watcher answered before any write: it was not blocked");
            if (Interlocked.Read(ref written.Value) - before >= ctx.Watchers)
            {
                var (flushed, drained, serverSides) = ProcStats.Sockets(weft.Port);
                if (serverSides >= ctx.Watchers && drained == serverSides && flushed >= serverSides) return;
            }

            await Task.Delay(10);
        }

        var (f, d, n) = ProcStats.Sockets(weft.Port);
        throw new TimeoutException(
            $"watchers not all blocked within 30 s: {Interlocked.Read(ref written.Value) - before} requests written, " +
            $"{n} server-side sockets of which {d} read empty, {f} client sides flushed");
    }
}
