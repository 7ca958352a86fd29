using System.Reflection;
using Weft.Core.Mesh.Protocol;

namespace Weft.Proxy.Metrics;

/// <summary>
/// The sidecar's counters as the <see cref="Stats"/> message it sends on the proxy stream every few seconds: cumulative
/// since <paramref name="started"/>, so the server takes differences and a lost report loses nothing.
/// </summary>
internal static class StatsReport
{
    public static readonly string Version =
        typeof(StatsReport).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static Stats From(ProxyMetrics metrics, DateTimeOffset started)
    {
        var stats = new Stats
        {
            Version = Version,
            StartedUnixMs = started.ToUnixTimeMilliseconds(),
            CertificateNotAfterUnixMs = metrics.CertificateNotAfter?.ToUnixTimeMilliseconds() ?? 0,
        };
        foreach (var route in metrics.Routes)
        {
            var counters = new RouteCounters { Direction = route.Direction, Peer = route.Peer, Route = route.Route, WeftErrors = (ulong)route.WeftErrors };
            long total = 0;
            for (var c = 0; c <= 5; c++)
            {
                var n = route.Requests(c);
                total += n;
                counters.StatusClasses.Add((ulong)n);
            }

            // A route nobody called yet says nothing.
            if (total == 0) continue;
            for (var i = 0; i <= route.Latency.BoundsSeconds.Length; i++)
                counters.LatencyBuckets.Add((ulong)route.Bucket(i));
            stats.Routes.Add(counters);
        }

        return stats;
    }
}
