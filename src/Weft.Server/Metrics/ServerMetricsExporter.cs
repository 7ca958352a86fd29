using System.Text.Json;
using Weft.Core.Catalog;
using Weft.Core.Metrics;
using Weft.Server.Health;
using Weft.Server.Mesh;

namespace Weft.Server.Metrics;

/// <summary>Writes the control plane's metrics: Prometheus text for <c>/metrics</c>, Consul's JSON for <c>/v1/agent/metrics</c>.</summary>
internal static class ServerMetricsExporter
{
    public static string Write(ServerMetrics metrics, CatalogState state, CheckScheduler checks, ProxySessions sessions)
    {
        var text = new PrometheusText();
        Counter(text, "weft_server_registrations_total", "Service instances registered (new, not re-registered).", metrics.Registrations);
        Counter(text, "weft_server_deregistrations_total", "Service instances removed.", metrics.Deregistrations);
        text.Family("weft_server_health_transitions_total", "counter", "Check status changes, by the status changed to.");
        foreach (var (status, count) in metrics.HealthTransitions)
            text.Sample("weft_server_health_transitions_total", [("to", status)], count);
        Counter(text, "weft_server_checks_run_total", "Health probes the server ran (HTTP, TCP, gRPC, script).", checks.ProbesRun);
        Gauge(text, "weft_server_checks_scheduled", "Checks the server runs or watches (probes and TTLs).", checks.Scheduled);
        Gauge(text, "weft_server_streams_open", "Proxy streams open now.", sessions.Count);
        Counter(text, "weft_server_stream_pushes_total", "Snapshots and deltas written to proxy streams.", metrics.Pushes);
        Counter(text, "weft_server_stream_nacks_total", "Pushes a sidecar rejected.", sessions.NacksReceived);
        text.Family("weft_server_stream_push_duration_seconds", "histogram", "Time to build and write one snapshot or delta to a proxy stream.");
        text.Histogram("weft_server_stream_push_duration_seconds", [], metrics.Push);
        text.Family("weft_server_stream_push_latency_seconds", "histogram",
            "Per delta pushed: from the store commit of the oldest change it carries to the end of its write to the proxy stream.");
        text.Histogram("weft_server_stream_push_latency_seconds", [], metrics.PushLatency);
        text.Family("weft_server_store_commit_duration_seconds", "histogram", "Time for the store to make one batch of writes durable.");
        text.Histogram("weft_server_store_commit_duration_seconds", [], metrics.StoreCommit);
        Gauge(text, "weft_server_blocking_queries", "Blocking queries waiting for a change now.", metrics.BlockingQueries);
        Gauge(text, "weft_server_catalog_index", "The catalog's current index.", state.Index);
        Gauge(text, "weft_server_services", "Services in the catalog.", state.ServicesByName.Count);
        Gauge(text, "weft_server_instances", "Service instances in the catalog.", state.Services.Count);
        ProcessMetrics.Write(text);
        return text.ToString();
    }

    /// <summary>Consul's <c>/v1/agent/metrics</c> JSON (go-metrics' summary): the same figures as gauges and counters.</summary>
    public static void WriteConsulJson(Utf8JsonWriter json, ServerMetrics metrics, CatalogState state, CheckScheduler checks, ProxySessions sessions)
    {
        json.WriteStartObject();
        json.WriteString("Timestamp", DateTimeOffset.UtcNow.ToString("yyyy-MM-dd HH:mm:ss +0000 'UTC'", System.Globalization.CultureInfo.InvariantCulture));
        json.WriteStartArray("Gauges");
        foreach (var (name, value) in new (string, double)[]
                 {
                     ("weft.server.streams_open", sessions.Count),
                     ("weft.server.blocking_queries", metrics.BlockingQueries),
                     ("weft.server.catalog_index", state.Index),
                     ("weft.server.services", state.ServicesByName.Count),
                     ("weft.server.instances", state.Services.Count),
                 })
        {
            json.WriteStartObject();
            json.WriteString("Name", name);
            json.WriteNumber("Value", value);
            json.WriteStartObject("Labels");
            json.WriteEndObject();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("Points");
        json.WriteEndArray();
        json.WriteStartArray("Counters");
        foreach (var (name, value) in new (string, long)[]
                 {
                     ("weft.server.registrations", metrics.Registrations),
                     ("weft.server.deregistrations", metrics.Deregistrations),
                     ("weft.server.checks_run", checks.ProbesRun),
                     ("weft.server.stream_pushes", metrics.Pushes),
                 })
        {
            json.WriteStartObject();
            json.WriteString("Name", name);
            json.WriteNumber("Count", value);
            json.WriteNumber("Sum", value);
            json.WriteStartObject("Labels");
            json.WriteEndObject();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("Samples");
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void Counter(PrometheusText text, string name, string help, double value)
    {
        text.Family(name, "counter", help);
        text.Sample(name, value);
    }

    private static void Gauge(PrometheusText text, string name, string help, double value)
    {
        text.Family(name, "gauge", help);
        text.Sample(name, value);
    }
}
