using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Weft.Server.Api.Wire;
using Weft.Server.Catalog;
using Weft.Server.Registry;

namespace Weft.Server.Api;

/// <summary><c>/v1/status/*</c>: open without a token, as in Consul, so health probes and load balancers can use it.</summary>
internal static class StatusApi
{
    public static void MapStatusApi(this IEndpointRouteBuilder app)
    {
        var status = app.MapGroup("/v1/status");
        // One server is its own leader; the address is where it serves, as host:port.
        status.MapGet("/leader", (HttpContext http, CatalogStore catalog, ServerIdentity self) =>
        {
            BlockingQuery.SetHeaders(http.Response, catalog.Current.Index);
            return TypedResults.Json(Self(http, self), ConsulJson.Default.String);
        });
        status.MapGet("/peers", (HttpContext http, CatalogStore catalog, ServerIdentity self) =>
        {
            BlockingQuery.SetHeaders(http.Response, catalog.Current.Index);
            return TypedResults.Json(new List<string> { Self(http, self) }, ConsulJson.Default.ListString);
        });
    }

    private static string Self(HttpContext http, ServerIdentity self) =>
        $"{self.Address}:{http.Connection.LocalPort}";
}
