using System.Globalization;
using Weft.Core.Metrics;
using Weft.Proxy.Routing;

namespace Weft.Proxy.Metrics;

/// <summary>
/// The sidecar's <c>/metrics</c>: reads the lock-free counters the request path already keeps and writes them in the
/// Prometheus text format. Every label value comes from config (service, route, cluster and listener names) or from a
/// small fixed set (direction, status code, outcome) — never from a request's path, address or id.
/// </summary>
internal static class PrometheusExporter
{
    public static string Write(ProxyMetrics metrics, MeshConfig config, TimeProvider time)
    {
        var text = new PrometheusText();
        var self = metrics.ServiceName;
        var routes = metrics.Routes.ToList();

        text.Family("weft_proxy_requests_total", "counter", "Requests that ended, by direction, peer service, route and status code (0: the caller went away).");
        foreach (var r in routes)
        {
            foreach (var (code, count) in r.Codes())
                text.Sample("weft_proxy_requests_total", [.. RouteLabels(self, r), ("code", code.ToString(CultureInfo.InvariantCulture))], count);
        }

        text.Family("weft_proxy_request_duration_seconds", "histogram", "Time from a request's arrival to its end, retries included.");
        foreach (var r in routes)
            text.Histogram("weft_proxy_request_duration_seconds", RouteLabels(self, r), r.Latency);

        RouteCounter(text, routes, self, "weft_proxy_retries_total", "Retry attempts (not counting each request's first attempt).", static r => r.Retries);
        text.Family("weft_proxy_retried_requests_total", "counter", "Requests retried at least once, by how they ended (success: a status below 500).");
        foreach (var r in routes)
        {
            if (r.RetriedSucceeded + r.RetriedFailed == 0)
                continue;
            text.Sample("weft_proxy_retried_requests_total", [.. RouteLabels(self, r), ("outcome", "success")], r.RetriedSucceeded);
            text.Sample("weft_proxy_retried_requests_total", [.. RouteLabels(self, r), ("outcome", "failure")], r.RetriedFailed);
        }

        RouteCounter(text, routes, self, "weft_proxy_retry_budget_exhausted_total", "Retries refused because the cluster's retry budget was spent.", static r => r.BudgetExhausted);
        RouteCounter(text, routes, self, "weft_proxy_timeouts_total", "Requests that ended in a request or per-try timeout.", static r => r.Timeouts);
        RouteCounter(text, routes, self, "weft_proxy_pending_rejections_total", "Requests refused by the cluster's concurrency limit (circuit breaker).", static r => r.Overflows);

        WriteClusters(text, config.Table, self);
        WriteConnections(text, metrics, self);
        WriteConfig(text, config, time, self);
        WriteTls(text, metrics, time, self);
        WriteAccessLog(text, metrics, self);
        ProcessMetrics.Write(text);
        return text.ToString();
    }

    private static (string, string)[] RouteLabels(string self, RouteStats r) =>
        [("direction", r.Direction), ("service", self), ("peer_service", r.Peer), ("route", r.Route)];

    private static void RouteCounter(PrometheusText text, List<RouteStats> routes, string self, string name, string help, Func<RouteStats, long> value)
    {
        text.Family(name, "counter", help);
        foreach (var r in routes)
        {
            var v = value(r);
            if (v > 0)
                text.Sample(name, RouteLabels(self, r), v);
        }
    }

    private static void WriteClusters(PrometheusText text, RouteTable table, string self)
    {
        var clusters = table.Clusters;
        (string, string)[] Labels(ClusterBinding c) => [("service", self), ("peer_service", c.Service), ("cluster", c.Name)];

        text.Family("weft_proxy_ejections_total", "counter", "Endpoints ejected by outlier detection since the sidecar started (not how many are ejected now).");
        foreach (var c in clusters)
            text.Sample("weft_proxy_ejections_total", Labels(c), c.Cluster.Ejections);
        text.Family("weft_proxy_endpoints_ejected", "gauge", "Endpoints ejected now.");
        foreach (var c in clusters)
            text.Sample("weft_proxy_endpoints_ejected", Labels(c), c.Cluster.Endpoints.Count(e => e.Ejected));
        text.Family("weft_proxy_endpoints", "gauge", "Endpoints the cluster balances over.");
        foreach (var c in clusters)
            text.Sample("weft_proxy_endpoints", Labels(c), c.Cluster.Endpoints.Count);
        text.Family("weft_proxy_requests_active", "gauge", "Requests in flight to the cluster.");
        foreach (var c in clusters)
            text.Sample("weft_proxy_requests_active", Labels(c), c.Limiter.Active);
        text.Family("weft_proxy_breaker_open", "gauge", "1 while the cluster's concurrency limit is reached and new requests are refused.");
        foreach (var c in clusters)
            text.Sample("weft_proxy_breaker_open", Labels(c), c.Limiter.Limit != int.MaxValue && c.Limiter.Active >= c.Limiter.Limit ? 1 : 0);
    }

    private static void WriteConnections(PrometheusText text, ProxyMetrics metrics, string self)
    {
        var listeners = metrics.Listeners.ToList();
        text.Family("weft_proxy_connections_open", "gauge", "Connections open now, per listener.");
        foreach (var l in listeners)
            text.Sample("weft_proxy_connections_open", [("service", self), ("listener", l.Name)], l.Open);
        text.Family("weft_proxy_connections_total", "counter", "Connections accepted, per listener.");
        foreach (var l in listeners)
            text.Sample("weft_proxy_connections_total", [("service", self), ("listener", l.Name)], l.Total);
        if (metrics.OwnH2 is { } ownH2)
        {
            text.Family("weft_proxy_inbound_h2_connections_total", "counter", "Inbound HTTP/2 connections, by the server that served them: weft (our own client's, WEFT_FAST_H2_SERVER) or kestrel.");
            text.Sample("weft_proxy_inbound_h2_connections_total", [("service", self), ("server", "weft")], ownH2.Served);
            text.Sample("weft_proxy_inbound_h2_connections_total", [("service", self), ("server", "kestrel")], ownH2.Kestrel);
            text.Family("weft_proxy_app_h2_connections_total", "counter", "The app's h2c connections (outbound and upstream listeners) served by weft's own HTTP/2 server.");
            text.Sample("weft_proxy_app_h2_connections_total", [("service", self)], ownH2.AppServed);
        }

        text.Family("weft_proxy_h2_keepalive_dead_total", "counter",
            "HTTP/2 connections closed because the peer answered no keep-alive PING in time, by this sidecar's side of them: client (its connections to other sidecars) or server (connections weft's own HTTP/2 server served).");
        text.Sample("weft_proxy_h2_keepalive_dead_total", [("service", self), ("side", "client")], metrics.DeadPeersAsClient.Count);
        text.Sample("weft_proxy_h2_keepalive_dead_total", [("service", self), ("side", "server")], metrics.DeadPeersAsServer.Count);

        var tcp = metrics.TcpUpstreams.ToList();
        TcpCounter(text, tcp, self, "weft_proxy_tcp_sent_bytes_total", "Bytes sent to the upstream by raw TCP proxying.", static t => t.BytesToUpstream);
        TcpCounter(text, tcp, self, "weft_proxy_tcp_received_bytes_total", "Bytes received from the upstream by raw TCP proxying.", static t => t.BytesFromUpstream);
        TcpCounter(text, tcp, self, "weft_proxy_tcp_connections_total", "TCP connections opened to the upstream.", static t => t.Connections);
        TcpCounter(text, tcp, self, "weft_proxy_tcp_connect_failures_total", "TCP connections to the upstream that failed to open.", static t => t.ConnectFailures);
    }

    private static void TcpCounter(PrometheusText text, List<TcpStats> tcp, string self, string name, string help, Func<TcpStats, long> value)
    {
        text.Family(name, "counter", help);
        foreach (var t in tcp)
            text.Sample(name, [("service", self), ("peer_service", t.Upstream)], value(t));
    }

    private static void WriteConfig(PrometheusText text, MeshConfig config, TimeProvider time, string self)
    {
        var applied = config.Applied;
        text.Family("weft_proxy_config_applied", "gauge", "1 once a mesh config snapshot from the control plane has been applied.");
        text.Sample("weft_proxy_config_applied", [("service", self)], applied is null ? 0 : 1);
        if (applied is null)
            return;
        text.Family("weft_proxy_config_version", "gauge", "Version of the mesh config snapshot in force.");
        text.Sample("weft_proxy_config_version", [("service", self)], applied.Version);
        text.Family("weft_proxy_config_age_seconds", "gauge", "Seconds since the mesh config in force was applied.");
        text.Sample("weft_proxy_config_age_seconds", [("service", self)], Math.Round((time.GetUtcNow() - applied.At).TotalSeconds, 3));
    }

    private static void WriteAccessLog(PrometheusText text, ProxyMetrics metrics, string self)
    {
        if (metrics.AccessLog is not { } log)
            return;
        text.Family("weft_proxy_access_log_lines_total", "counter", "Access log lines written.");
        text.Sample("weft_proxy_access_log_lines_total", [("service", self)], log.Written);
        text.Family("weft_proxy_access_log_dropped_total", "counter", "Access log lines dropped because the writer was behind (its queue of 8192 lines was full); the request never waits.");
        text.Sample("weft_proxy_access_log_dropped_total", [("service", self)], log.Dropped);
    }

    private static void WriteTls(PrometheusText text, ProxyMetrics metrics, TimeProvider time, string self)
    {
        if (!metrics.TlsReported)
            return;
        text.Family("weft_proxy_tls_handshake_failures_total", "counter", "TLS handshakes that failed.");
        text.Sample("weft_proxy_tls_handshake_failures_total", [("service", self)], metrics.TlsHandshakeFailures);
        if (metrics.CertificateNotAfter is { } notAfter)
        {
            text.Family("weft_proxy_certificate_expiry_seconds", "gauge", "Seconds until the workload certificate's NotAfter (negative once expired).");
            text.Sample("weft_proxy_certificate_expiry_seconds", [("service", self)], Math.Round((notAfter - time.GetUtcNow()).TotalSeconds, 3));
        }
    }
}
