using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Weft.Core.Catalog;
using Weft.Core.Text;
using Weft.Server.Api.Wire;
using Weft.Server.Catalog;
using Weft.Server.Mesh;
using Weft.Server.Stats;

namespace Weft.Server.Api;

/// <summary><c>/v1/weft/*</c>: Weft's own endpoints, beside the Consul-compatible ones.</summary>
internal static class WeftApi
{
    private static readonly TimeSpan DefaultWindow = TimeSpan.FromSeconds(60);

    public static void MapWeftApi(this IEndpointRouteBuilder app)
    {
        var weft = app.MapGroup("/v1/weft");
        weft.MapGet("/proxies", Proxies);
        weft.MapGet("/stats", AllStats);
        weft.MapGet("/stats/{service}", ServiceStats);
    }

    /// <summary>The sidecars on the proxy stream now: what each was sent, acknowledged and last rejected, and what it last reported.</summary>
    private static IResult Proxies(HttpContext http, CatalogStore catalog, ProxySessions sessions, TimeProvider time)
    {
        BlockingQuery.SetHeaders(http.Response, catalog.Current.Index);
        var now = time.GetUtcNow();
        var list = sessions.Connected.Select(s =>
        {
            var stats = s.LastStats;
            return new ProxyWire
            {
                ProxyId = s.ProxyId,
                Service = s.Service,
                Node = s.Node,
                ConnectedAt = s.ConnectedAt,
                SentVersion = s.SentVersion,
                AckedVersion = s.AckedVersion,
                Nacks = s.NackCount,
                Heartbeats = s.Heartbeats,
                LastNack = s.LastNack is { } nack ? new ProxyNackWire { Version = nack.Version, Reason = nack.Reason } : null,
                Version = stats?.Report.Version ?? "",
                CertificateNotAfter = stats?.Report.CertificateNotAfterUnixMs is > 0 and var ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null,
                ConfigVersion = stats?.Report.ConfigVersion ?? 0,
                // The age the sidecar reported, grown by the time since the report.
                ConfigAgeSeconds = stats is { } r && r.Report.ConfigAgeSeconds >= 0 ? r.Report.ConfigAgeSeconds + (now - r.At).TotalSeconds : null,
                LastStatsReport = stats?.At,
            };
        }).ToList();
        return TypedResults.Json(list, ConsulJson.Api.ListProxyWire);
    }

    /// <summary>Every catalog service with its health counts and golden signals over <c>?window=</c>, and the edges between them.</summary>
    private static IResult AllStats(HttpContext http, CatalogStore catalog, MeshStats stats)
    {
        var view = stats.View(Window(http));
        var state = catalog.Current;
        // ?history=false leaves each History out: a page listing hundreds of services charts only the one it shows.
        var history = !string.Equals(http.Request.Query["history"], "false", StringComparison.OrdinalIgnoreCase);
        var body = new StatsWire
        {
            Time = view.Time,
            WindowSeconds = view.WindowSeconds,
            Services = [.. state.ServicesByName.Keys.Select(name => Service(state, view, name, history))],
            Edges = [.. view.Edges().Select(Edge)],
        };
        return TypedResults.Json(body, ConsulJson.Api.StatsWire);
    }

    /// <summary>One service as in <see cref="AllStats"/>, with its routes, callers and callees.</summary>
    private static IResult ServiceStats(HttpContext http, string service, CatalogStore catalog, MeshStats stats)
    {
        var state = catalog.Current;
        if (!state.ServicesByName.ContainsKey(service))
            throw ApiException.NotFound($"service \"{service}\" is not in the catalog");
        var view = stats.View(Window(http));
        var body = Service(state, view, service);
        body.Routes = [.. view.Routes(service).Select(r => new RouteSignalsWire
        {
            Route = r.Route,
            RequestsPerSecond = r.Signals.RequestsPerSecond,
            SuccessRate = r.Signals.SuccessRate,
            P50Seconds = r.Signals.P50Seconds,
            P99Seconds = r.Signals.P99Seconds,
        })];
        var edges = view.Edges();
        body.Callers = [.. edges.Where(e => e.Destination == service).Select(Edge)];
        body.Callees = [.. edges.Where(e => e.Source == service).Select(Edge)];
        return TypedResults.Json(body, ConsulJson.Api.ServiceStatsWire);
    }

    private static TimeSpan Window(HttpContext http)
    {
        var text = http.Request.Query["window"].ToString();
        if (text.Length == 0) return DefaultWindow;
        if (!GoDuration.TryParse(text, out var window, out var error))
            throw ApiException.BadRequest($"Invalid window \"{text}\": {error}");
        if (window < MeshStats.SlotLength || window > MeshStats.SlotLength * MeshStats.SlotCount)
            throw ApiException.BadRequest($"Invalid window \"{text}\": it must be between 5s and 10m");
        return window;
    }

    private static ServiceStatsWire Service(CatalogState state, StatsView view, string name, bool history = true)
    {
        var health = state.HealthCountsOf(name);
        var signals = view.Window(name);
        return new ServiceStatsWire
        {
            Name = name,
            Instances = health.Instances,
            Passing = health.Passing,
            Warning = health.Warning,
            Critical = health.Critical,
            RequestsPerSecond = signals.RequestsPerSecond,
            SuccessRate = signals.SuccessRate,
            P50Seconds = signals.P50Seconds,
            P99Seconds = signals.P99Seconds,
            History = !history ? null : [.. view.History(name).Select(p => new StatsPointWire
            {
                Time = p.Time,
                RequestsPerSecond = p.Signals.RequestsPerSecond,
                SuccessRate = p.Signals.SuccessRate,
                P50Seconds = p.Signals.P50Seconds,
                P99Seconds = p.Signals.P99Seconds,
            })],
        };
    }

    private static EdgeWire Edge((string Source, string Destination, Signals Signals) e) => new()
    {
        Source = e.Source,
        Destination = e.Destination,
        RequestsPerSecond = e.Signals.RequestsPerSecond,
        SuccessRate = e.Signals.SuccessRate,
    };
}
