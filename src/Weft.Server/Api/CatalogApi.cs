using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Weft.Core.Catalog;
using Weft.Server.Acl;
using Weft.Server.Api.Wire;
using Weft.Server.Catalog;
using Weft.Server.Registry;

namespace Weft.Server.Api;

/// <summary>
/// <c>/v1/catalog/*</c>: every node and service the server knows, whoever registered them. Any token reads;
/// only the management token writes (registering a node needs Consul's node:write, which service tokens lack).
/// </summary>
internal static class CatalogApi
{
    public static void MapCatalogApi(this IEndpointRouteBuilder app)
    {
        var catalog = app.MapGroup("/v1/catalog");
        catalog.MapGet("/services", Services);
        catalog.MapGet("/service/{*service}", Service);
        catalog.MapGet("/nodes", Nodes);
        catalog.MapGet("/node/{*node}", Node);
        catalog.MapGet("/datacenters", Datacenters);
        catalog.MapPut("/register", Register);
        catalog.MapPut("/deregister", Deregister);
    }

    private static Task<IResult> Services(HttpContext http, BlockingQuery blocking, ServerIdentity self)
    {
        QueryFilters.RequireLocalDatacenter(http.Request, self);
        var nodeMeta = QueryFilters.NodeMeta(http.Request);
        var filtered = http.Request.Query.ContainsKey("node-meta");
        return blocking.RespondAsync(http, Topics.ServiceNames, state =>
        {
            var result = new SortedDictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
            foreach (var (name, _) in state.ServicesByName)
            {
                if (!filtered)
                {
                    result[name] = [.. state.TagsOf(name)];
                    continue;
                }

                var instances = state.InstancesOf(name).Where(s => nodeMeta(state.Nodes.GetValueOrDefault(s.Node))).ToList();
                if (instances.Count > 0)
                    result[name] = instances.SelectMany(s => s.Tags).Distinct().Order(StringComparer.Ordinal).ToList();
            }

            return result;
        }, ConsulJson.Api.SortedDictionaryStringIReadOnlyListString);
    }

    private static Task<IResult> Service(string service, HttpContext http, BlockingQuery blocking, ServerIdentity self)
    {
        QueryFilters.RequireLocalDatacenter(http.Request, self);
        var tags = QueryFilters.Tags(http.Request);
        var nodeMeta = QueryFilters.NodeMeta(http.Request);
        return blocking.RespondAsync(http, Topics.Service(service), state =>
            state.InstancesOf(service)
                .Where(tags)
                .Select(s => (Service: s, Node: state.Nodes.GetValueOrDefault(s.Node)))
                .Where(x => nodeMeta(x.Node))
                .Select(x => x.Service.ToCatalogService(x.Node))
                .ToList(),
            ConsulJson.Api.ListCatalogServiceWire);
    }

    private static Task<IResult> Nodes(HttpContext http, BlockingQuery blocking, ServerIdentity self)
    {
        QueryFilters.RequireLocalDatacenter(http.Request, self);
        var nodeMeta = QueryFilters.NodeMeta(http.Request);
        return blocking.RespondAsync(http, Topics.Nodes,
            state => state.Nodes.Values.Where(nodeMeta).Select(n => n.ToWire()).ToList(),
            ConsulJson.Api.ListNodeWire);
    }

    private static async Task<IResult> Node(string node, HttpContext http, BlockingQuery blocking, ServerIdentity self)
    {
        QueryFilters.RequireLocalDatacenter(http.Request, self);
        var state = await blocking.WaitAsync(http, Topics.Node(node));
        // Consul answers an unknown node with 200 and a JSON null; clients rely on that.
        if (!state.Nodes.TryGetValue(node, out var record))
            return TypedResults.Text("null", "application/json");
        return TypedResults.Json(new CatalogNodeWire
        {
            Node = record.ToWire(),
            Services = state.ServicesOn(node).ToDictionary(s => s.Id, s => s.ToAgentService(record.Datacenter, withIndexes: true)),
        }, ConsulJson.Api.CatalogNodeWire);
    }

    private static IResult Datacenters(HttpContext http, CatalogStore catalog, ServerIdentity self)
    {
        BlockingQuery.SetHeaders(http.Response, catalog.Current.TopicIndex(Topics.Datacenters));
        return TypedResults.Json(new List<string> { self.Datacenter }, ConsulJson.Api.ListString);
    }

    private static async Task<IResult> Register(HttpRequest request, CatalogStore catalog, RegistryOperations registry)
    {
        AclIdentity.Of(request.HttpContext).Management("node:write");
        var body = await RequestBody.ReadAsync(request, ConsulJson.Api.CatalogRegistrationRequest);
        await catalog.WriteAsync(tx => registry.CatalogRegister(tx, body));
        return TypedResults.Json(true, ConsulJson.Api.Boolean);
    }

    private static async Task<IResult> Deregister(HttpRequest request, CatalogStore catalog, RegistryOperations registry)
    {
        AclIdentity.Of(request.HttpContext).Management("node:write");
        var body = await RequestBody.ReadAsync(request, ConsulJson.Api.CatalogDeregistrationRequest);
        await catalog.WriteAsync(tx => registry.CatalogDeregister(tx, body));
        return TypedResults.Json(true, ConsulJson.Api.Boolean);
    }
}
