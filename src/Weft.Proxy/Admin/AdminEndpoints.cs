using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Weft.Core.Metrics;
using Weft.Proxy.Metrics;
using Weft.Proxy.Routing;

namespace Weft.Proxy.Admin;

/// <summary>
/// The admin listener's whole surface: <c>/ready</c>, <c>/config</c>, <c>/clusters</c>, <c>/stats</c>, <c>/metrics</c>
/// (Prometheus). JSON is written
/// directly with <see cref="Utf8JsonWriter"/>: no reflection, fine for trimming and AOT.
/// </summary>
internal sealed class AdminEndpoints(MeshConfig config, ProxyMetrics metrics, TimeProvider time)
{
    /// <summary>The local app's part of readiness (its health check); set by whoever runs the check. Ready by default.</summary>
    public Func<bool> AppReady { get; set; } = static () => true;

    public bool IsReady => config.Applied is not null && AppReady();

    public Task HandleAsync(HttpContext http) => http.Request.Path.Value switch
    {
        "/ready" => ReadyAsync(http),
        "/config" => JsonAsync(http, WriteConfig),
        "/clusters" => JsonAsync(http, WriteClusters),
        "/stats" => JsonAsync(http, WriteStats),
        "/metrics" => MetricsAsync(http),
        _ => NotFoundAsync(http),
    };

    private Task ReadyAsync(HttpContext http)
    {
        var applied = config.Applied;
        var appReady = AppReady();
        http.Response.StatusCode = applied is not null && appReady ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        http.Response.ContentType = "text/plain; charset=utf-8";
        var text = applied is null
            ? "not ready: no mesh config applied yet\n"
            : !appReady
                ? "not ready: the local app is not passing its check\n"
                : $"ready: mesh config version {applied.Version}, applied {Age(applied.At):0} s ago\n";
        return http.Response.WriteAsync(text);
    }

    private static Task NotFoundAsync(HttpContext http)
    {
        http.Response.StatusCode = StatusCodes.Status404NotFound;
        return http.Response.WriteAsync("weft admin: /ready /config /clusters /stats /metrics\n");
    }

    private Task MetricsAsync(HttpContext http)
    {
        if (!metrics.Enabled)
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            return http.Response.WriteAsync("weft admin: metrics are off (weft proxy --metrics off)\n");
        }

        http.Response.ContentType = PrometheusText.ContentType;
        return http.Response.WriteAsync(PrometheusExporter.Write(metrics, config, time));
    }

    private double Age(DateTimeOffset at) => (time.GetUtcNow() - at).TotalSeconds;

    private static async Task JsonAsync(HttpContext http, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            write(json);
        http.Response.ContentType = "application/json";
        await http.Response.Body.WriteAsync(buffer.WrittenMemory);
    }

    private void WriteConfig(Utf8JsonWriter json)
    {
        var table = config.Table;
        var applied = config.Applied;
        var rejected = config.Rejected;
        json.WriteStartObject();
        if (applied is null)
        {
            json.WriteNull("Version");
            json.WriteNull("AppliedAt");
            json.WriteNull("AgeSeconds");
        }
        else
        {
            json.WriteNumber("Version", applied.Version);
            json.WriteString("AppliedAt", applied.At);
            json.WriteNumber("AgeSeconds", Math.Round(Age(applied.At), 3));
        }

        if (rejected is null)
        {
            json.WriteNull("LastRejected");
        }
        else
        {
            json.WriteStartObject("LastRejected");
            json.WriteNumber("Version", rejected.Version);
            json.WriteString("At", rejected.At);
            json.WriteString("Reason", rejected.Reason);
            json.WriteEndObject();
        }

        json.WriteStartObject("Upstreams");
        foreach (var (name, upstream) in table.Upstreams)
            WriteUpstream(json, name, upstream);
        json.WriteEndObject();
        json.WritePropertyName("Inbound");
        WriteUpstreamBody(json, table.Inbound);
        json.WriteBoolean("IntentionsDefaultAllow", table.Intentions.DefaultAllow);

        json.WriteStartObject("Clusters");
        foreach (var c in table.Clusters)
        {
            json.WriteStartObject(c.Name);
            json.WriteString("Service", c.Service);
            json.WriteString("Subset", c.Subset);
            json.WriteString("Protocol", c.Protocol);
            json.WriteString("LoadBalancer", c.Settings.Policy.Length == 0 ? "peak_ewma" : c.Settings.Policy);
            json.WriteNumber("ConnectTimeoutMs", c.ConnectTimeout.TotalMilliseconds);
            json.WriteNumber("Endpoints", c.Endpoints.Length);
            json.WriteNumber("ConcurrencyLimit", c.Limiter.Limit == int.MaxValue ? -1 : c.Limiter.Limit);
            json.WriteNumber("OutlierConsecutiveFailures", c.Settings.Outlier.ConsecutiveFailures);
            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteUpstream(Utf8JsonWriter json, string name, UpstreamRoutes upstream)
    {
        json.WritePropertyName(name);
        WriteUpstreamBody(json, upstream);
    }

    private static void WriteUpstreamBody(Utf8JsonWriter json, UpstreamRoutes upstream)
    {
        json.WriteStartObject();
        json.WriteString("Protocol", upstream.Protocol);
        json.WriteStartArray("Routes");
        foreach (var route in upstream.Routes)
        {
            var a = route.Action;
            json.WriteStartObject();
            json.WriteString("Name", route.Name);
            json.WriteString("Match", route.Match.Describe);
            json.WriteStartArray("Destinations");
            double previous = 0;
            foreach (var t in a.Targets)
            {
                json.WriteStartObject();
                json.WriteString("Cluster", t.Binding.Name);
                json.WriteNumber("Weight", Math.Round(t.UpTo - previous, 4));
                json.WriteEndObject();
                previous = t.UpTo;
            }

            json.WriteEndArray();
            if (a.PrefixRewrite is not null) json.WriteString("PrefixRewrite", a.PrefixRewrite);
            if (a.RequestTimeout is { } rt) json.WriteNumber("RequestTimeoutMs", rt.TotalMilliseconds);
            if (a.PerTryTimeout is { } pt) json.WriteNumber("PerTryTimeoutMs", pt.TotalMilliseconds);
            json.WriteNumber("NumRetries", a.Retry.NumRetries);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private void WriteClusters(Utf8JsonWriter json)
    {
        var now = time.GetUtcNow();
        json.WriteStartObject();
        foreach (var c in config.Table.Clusters)
        {
            json.WriteStartObject(c.Name);
            json.WriteNumber("InFlight", c.Limiter.Active);
            json.WriteNumber("BreakerRejections", c.Limiter.Rejected);
            json.WriteNumber("RetryBudgetExhausted", c.Budget.Exhausted);
            json.WriteStartArray("Endpoints");
            foreach (var e in c.Cluster.Endpoints)
            {
                json.WriteStartObject();
                json.WriteString("Id", e.Endpoint.Id);
                json.WriteString("Address", e.Endpoint.HostPort);
                json.WriteBoolean("Sidecar", e.Endpoint.Sidecar);
                json.WriteString("Health", e.Endpoint.Health);
                json.WriteNumber("Weight", e.Endpoint.Weight);
                json.WriteNumber("Outstanding", e.Outstanding);
                json.WriteBoolean("Ejected", e.Ejected);
                if (e.EjectedUntil is { } until && until > now)
                    json.WriteString("EjectedUntil", until);
                else
                    json.WriteNull("EjectedUntil");
                json.WriteNumber("LatencyEwmaMs", Math.Round(e.LatencyEwmaMs, 3));
                json.WriteNumber("Attempts", e.Attempts);
                json.WriteNumber("Failures", e.Failures);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndObject();
    }

    private void WriteStats(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteNumber("IntentionDenials", metrics.IntentionDenials);
        json.WriteStartArray("Routes");
        foreach (var r in metrics.Routes)
        {
            json.WriteStartObject();
            json.WriteString("Direction", r.Direction);
            json.WriteString("Service", r.Service);
            json.WriteString("Route", r.Route);
            json.WriteString("Peer", r.Peer);
            json.WriteStartObject("Requests");
            string[] classes = ["none", "1xx", "2xx", "3xx", "4xx", "5xx"];
            for (var i = 0; i < classes.Length; i++)
                json.WriteNumber(classes[i], r.Requests(i));
            json.WriteEndObject();
            json.WriteNumber("LatencySumMs", Math.Round(r.LatencySum.TotalMilliseconds, 3));
            json.WriteStartObject("LatencyBucketsMs");
            var bounds = r.Latency.BoundsSeconds;
            for (var i = 0; i <= bounds.Length; i++)
                json.WriteNumber(i < bounds.Length ? (bounds[i] * 1000).ToString(System.Globalization.CultureInfo.InvariantCulture) : "+Inf", r.Bucket(i));
            json.WriteEndObject();
            json.WriteNumber("Retries", r.Retries);
            json.WriteNumber("RetryBudgetExhausted", r.BudgetExhausted);
            json.WriteNumber("Timeouts", r.Timeouts);
            json.WriteNumber("BreakerRejections", r.Overflows);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartObject("Clusters");
        foreach (var c in config.Table.Clusters)
        {
            var ejected = 0;
            foreach (var e in c.Cluster.Endpoints)
            {
                if (e.Ejected)
                    ejected++;
            }

            json.WriteStartObject(c.Name);
            json.WriteNumber("EjectedEndpoints", ejected);
            json.WriteNumber("InFlight", c.Limiter.Active);
            json.WriteNumber("BreakerRejections", c.Limiter.Rejected);
            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteStartObject("Listeners");
        foreach (var l in metrics.Listeners)
        {
            json.WriteStartObject(l.Name);
            json.WriteNumber("OpenConnections", l.Open);
            json.WriteNumber("TotalConnections", l.Total);
            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteStartObject("Tcp");
        foreach (var t in metrics.TcpUpstreams)
        {
            json.WriteStartObject(t.Upstream);
            json.WriteNumber("Connections", t.Connections);
            json.WriteNumber("ConnectFailures", t.ConnectFailures);
            json.WriteNumber("BytesToUpstream", t.BytesToUpstream);
            json.WriteNumber("BytesFromUpstream", t.BytesFromUpstream);
            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }
}
