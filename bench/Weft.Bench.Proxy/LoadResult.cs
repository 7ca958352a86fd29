using System.Text.Json.Nodes;

namespace Weft.Bench.Proxy;

/// <summary>One round of load against one target: what the client saw and what the processes spent.</summary>
internal sealed record LoadResult(string Target, long Requests, long Errors, double RequestsPerSecond, double P50Ms, double P99Ms, Sample Sample)
{
    /// <summary>Proxy CPU per completed request, in µs (NaN for direct).</summary>
    public double ProxyCpuUsPerRequest => Requests == 0 || !Sample.HasProxy ? double.NaN : Sample.ProxyCpuSeconds * 1e6 / Requests;

    /// <summary>The last proxy process's CPU per request, in µs: the server sidecar of a two-hop target (NaN with one process).</summary>
    public double LastProcessCpuUsPerRequest => Requests == 0 || Sample.ProcessCpuSeconds.Length < 2 ? double.NaN : Sample.ProcessCpuSeconds[^1] * 1e6 / Requests;

    public double BackendCpuUsPerRequest => Requests == 0 ? double.NaN : Sample.BackendCpuSeconds * 1e6 / Requests;

    /// <summary>Share of one core the proxy (all its processes) kept busy.</summary>
    public double ProxyCorePercent => Sample.ProxyCpuSeconds / Sample.WallSeconds * 100;

    public double BackendCorePercent => Sample.BackendCpuSeconds / Sample.WallSeconds * 100;

    public JsonObject ToJson() => new()
    {
        ["target"] = Target,
        ["requests"] = Requests,
        ["errors"] = Errors,
        ["rps"] = Round(RequestsPerSecond),
        ["p50_ms"] = Round(P50Ms),
        ["p99_ms"] = Round(P99Ms),
        ["proxy_cpu_us_per_request"] = Round(ProxyCpuUsPerRequest),
        ["proxy_core_percent"] = Round(ProxyCorePercent),
        ["server_sidecar_cpu_us_per_request"] = Round(LastProcessCpuUsPerRequest),
        ["backend_cpu_us_per_request"] = Round(BackendCpuUsPerRequest),
        ["backend_core_percent"] = Round(BackendCorePercent),
        ["machine_busy_percent"] = Round(Sample.MachineBusyPercent),
        ["proxy_max_rss_kib"] = Sample.MaxRssKiB,
        ["wall_seconds"] = Round(Sample.WallSeconds),
    };

    public static JsonNode? Round(double value) => double.IsFinite(value) ? JsonValue.Create(Math.Round(value, 3)) : null;
}
