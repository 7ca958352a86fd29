using System.Text;
using Weft.Core.Metrics;
using Weft.Proxy.Metrics;
using Weft.Proxy.Sidecar;

namespace Weft.Cli.Dev;

/// <summary>
/// The live view of <c>weft dev</c>: per service, what its instances answered (their sidecars' inbound counters)
/// next to what its callers saw after retries (the callers' outbound counters), over the last window.
/// </summary>
internal sealed class DemoView(MeshDemo demo)
{
    private readonly Dictionary<(string Direction, string Service), Totals> _last = [];

    public string Render(TimeSpan window)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"weft dev: live view over the last {window.TotalSeconds:0} s (Ctrl-C stops everything)");
        sb.AppendLine();
        sb.AppendLine($"{"",-10} {"answered by its instances",-34} | {"seen by its callers, after retries",-46}");
        sb.AppendLine($"{"service",-10} {"req/s",7} {"success",8} {"p50",8} {"p99",8} | {"req/s",7} {"success",8} {"p50",8} {"p99",8} {"retries",8} {"ejected",8}");
        foreach (var service in MeshDemo.Services)
        {
            var inbound = Delta(Directions.Inbound, service, demo.Sidecars[service]);
            var callers = service switch
            {
                "frontend" => demo.Sidecars["loadgen"],
                "orders" => demo.Sidecars["frontend"],
                _ => demo.Sidecars["orders"],
            };
            var outbound = Delta(Directions.Outbound, service, callers);
            var ejected = callers.Sum(c => c.Host.Config.Table.Clusters
                .Where(b => b.Service == service)
                .Sum(b => b.Cluster.Endpoints.Count(e => e.Ejected)));
            sb.AppendLine($"{service,-10} {Rate(inbound, window),7} {Success(inbound),8} {Ms(inbound, 0.5),8} {Ms(inbound, 0.99),8} | " +
                $"{Rate(outbound, window),7} {Success(outbound),8} {Ms(outbound, 0.5),8} {Ms(outbound, 0.99),8} {outbound.Retries,8} {ejected,8}");
        }

        var (requests, ok, p50, p99) = demo.Load.Drain();
        sb.AppendLine();
        sb.AppendLine($"load generator → frontend: {requests / window.TotalSeconds:0.0} req/s, " +
            $"{(requests == 0 ? "-" : $"{100.0 * ok / requests:0.0}%")} succeeded, p50 {p50:0.0} ms, p99 {p99:0.0} ms");
        return sb.ToString();
    }

    private Totals Delta(string direction, string service, List<SidecarRunner> sidecars)
    {
        var now = new Totals(new long[6], new long[Histogram.LatencyBoundsSeconds.Length + 1], 0);
        foreach (var sidecar in sidecars)
        {
            foreach (var route in sidecar.Host.Metrics.Routes)
            {
                if (route.Direction != direction || route.Service != service) continue;
                for (var c = 0; c < 6; c++) now.ByClass[c] += route.Requests(c);
                for (var b = 0; b < now.Buckets.Length; b++) now.Buckets[b] += route.Bucket(b);
                now = now with { Retries = now.Retries + route.Retries };
            }
        }

        var before = _last.GetValueOrDefault((direction, service)) ?? new Totals(new long[6], new long[now.Buckets.Length], 0);
        _last[(direction, service)] = now;
        return new Totals(
            now.ByClass.Zip(before.ByClass, (a, b) => a - b).ToArray(),
            now.Buckets.Zip(before.Buckets, (a, b) => a - b).ToArray(),
            now.Retries - before.Retries);
    }

    private static string Rate(Totals t, TimeSpan window) => (t.Requests / window.TotalSeconds).ToString("0.0");

    private static string Success(Totals t) => t.Requests == 0 ? "-" : $"{100.0 * (t.Requests - t.ByClass[5] - t.ByClass[0]) / t.Requests:0.0}%";

    /// <summary>The upper bound of the bucket holding the quantile: coarse, but honest about its resolution.</summary>
    private static string Ms(Totals t, double q)
    {
        var total = t.Buckets.Sum();
        if (total == 0) return "-";
        var rank = (long)Math.Ceiling(q * total);
        long seen = 0;
        for (var i = 0; i < t.Buckets.Length; i++)
        {
            seen += t.Buckets[i];
            if (seen >= rank)
                return i < Histogram.LatencyBoundsSeconds.Length ? $"≤{Histogram.LatencyBoundsSeconds[i] * 1000:0.#}ms" : ">30s";
        }

        return "-";
    }

    private sealed record Totals(long[] ByClass, long[] Buckets, long Retries)
    {
        public long Requests => ByClass.Sum();
    }
}
