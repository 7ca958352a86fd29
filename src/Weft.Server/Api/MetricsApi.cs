using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Weft.Core.Catalog;
using Weft.Core.Mesh;
using Weft.Core.Metrics;
using Weft.Server.Catalog;
using Weft.Server.Health;
using Weft.Server.Mesh;
using Weft.Server.Metrics;

namespace Weft.Server.Api;

/// <summary>
/// What Prometheus reads: the server's own metrics (<c>/metrics</c>, and Consul's <c>/v1/agent/metrics</c>), and
/// <c>/v1/prometheus/sd</c>, the sidecars' metrics addresses in <c>http_sd_configs</c> form. All need the token.
/// </summary>
internal static class MetricsApi
{
    public static void MapMetricsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/metrics", Prometheus);
        app.MapGet("/v1/agent/metrics", AgentMetrics);
        app.MapGet("/v1/prometheus/sd", ServiceDiscovery);
    }

    private static IResult Prometheus(ServerMetrics metrics, CatalogStore catalog, CheckScheduler checks, ProxySessions sessions) =>
        TypedResults.Text(ServerMetricsExporter.Write(metrics, catalog.Current, checks, sessions), PrometheusText.ContentType);

    /// <summary>Consul's agent metrics: <c>?format=prometheus</c> is the text format; without it, Consul's JSON summary.</summary>
    private static IResult AgentMetrics(HttpContext http, ServerMetrics metrics, CatalogStore catalog, CheckScheduler checks, ProxySessions sessions)
    {
        var format = http.Request.Query["format"].ToString();
        if (format == "prometheus")
            return Prometheus(metrics, catalog, checks, sessions);
        if (format.Length > 0)
            throw ApiException.BadRequest($"Invalid format \"{format}\": use format=prometheus, or no format for JSON");
        return Json(writer => ServerMetricsExporter.WriteConsulJson(writer, metrics, catalog.Current, checks, sessions));
    }

    /// <summary>
    /// One target group per sidecar instance that registered its admin address (Meta <c>weft-admin</c>), labelled with
    /// its service and instance. Prometheus re-reads this on its refresh interval; no blocking query.
    /// </summary>
    private static IResult ServiceDiscovery(CatalogStore catalog)
    {
        var state = catalog.Current;
        return Json(json =>
        {
            json.WriteStartArray();
            foreach (var (name, keys) in state.ServicesByName)
            {
                foreach (var key in keys)
                {
                    var instance = state.Services[key];
                    if (!instance.Meta.TryGetValue(MeshMeta.Admin, out var admin) || admin.Length == 0)
                        continue;
                    var health = HealthStatus.Passing;
                    foreach (var check in state.ChecksFor(instance))
                        health = HealthStatus.Worst(health, check.Status);
                    json.WriteStartObject();
                    json.WriteStartArray("targets");
                    json.WriteStringValue(admin);
                    json.WriteEndArray();
                    json.WriteStartObject("labels");
                    json.WriteString("__metrics_path__", "/metrics");
                    json.WriteString("__meta_weft_service", name);
                    json.WriteString("__meta_weft_instance", instance.Id);
                    json.WriteString("__meta_weft_node", instance.Node);
                    json.WriteString("__meta_weft_address", $"{instance.Address}:{instance.Port}");
                    json.WriteString("__meta_weft_health", health);
                    json.WriteString("service", name);
                    json.WriteString("instance", instance.Id);
                    json.WriteEndObject();
                    json.WriteEndObject();
                }
            }

            json.WriteEndArray();
        });
    }

    private static IResult Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
            write(json);
        return TypedResults.Bytes(buffer.WrittenMemory.ToArray(), "application/json; charset=utf-8");
    }
}
