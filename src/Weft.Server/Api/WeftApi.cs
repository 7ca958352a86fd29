using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Weft.Server.Api.Wire;
using Weft.Server.Catalog;
using Weft.Server.Mesh;

namespace Weft.Server.Api;

/// <summary><c>/v1/weft/*</c>: Weft's own endpoints, beside the Consul-compatible ones.</summary>
internal static class WeftApi
{
    public static void MapWeftApi(this IEndpointRouteBuilder app)
    {
        var weft = app.MapGroup("/v1/weft");
        weft.MapGet("/proxies", Proxies);
    }

    /// <summary>The sidecars on the proxy stream now: what each was sent, acknowledged and last rejected.</summary>
    private static IResult Proxies(HttpContext http, CatalogStore catalog, ProxySessions sessions)
    {
        BlockingQuery.SetHeaders(http.Response, catalog.Current.Index);
        var list = sessions.Connected.Select(s => new ProxyWire
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
        }).ToList();
        return TypedResults.Json(list, ConsulJson.Api.ListProxyWire);
    }
}
