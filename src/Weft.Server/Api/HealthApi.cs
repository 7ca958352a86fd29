using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Weft.Core.Catalog;
using Weft.Server.Api.Wire;
using Weft.Server.Registry;

namespace Weft.Server.Api;

/// <summary><c>/v1/health/*</c>: instances with their checks, and checks by state.</summary>
internal static class HealthApi
{
    public static void MapHealthApi(this IEndpointRouteBuilder app)
    {
        var health = app.MapGroup("/v1/health");
        health.MapGet("/service/{*service}", Service);
        health.MapGet("/checks/{*service}", Checks);
        health.MapGet("/node/{*node}", Node);
        health.MapGet("/state/{state}", State);
    }

    private static Task<IResult> Service(string service, HttpContext http, BlockingQuery blocking, ServerIdentity self)
    {
        QueryFilters.RequireLocalDatacenter(http.Request, self);
        var tags = QueryFilters.Tags(http.Request);
        var nodeMeta = QueryFilters.NodeMeta(http.Request);
        var passingOnly = QueryFilters.Passing(http.Request);
        return blocking.RespondAsync(http, Topics.Service(service), state =>
        {
            var entries = new List<ServiceEntryWire>();
            foreach (var instance in state.InstancesOf(service).Where(tags))
            {
                var node = state.Nodes.GetValueOrDefault(instance.Node);
                if (node is null || !nodeMeta(node)) continue;
                var checks = state.ChecksFor(instance).ToList();
                if (passingOnly && checks.Any(c => c.Status != HealthStatus.Passing)) continue;
                entries.Add(new ServiceEntryWire
                {
                    Node = node.ToWire(),
                    Service = instance.ToAgentService(node.Datacenter, withIndexes: true),
                    Checks = checks.Select(c => c.ToWire()).ToList(),
                });
            }

            return entries;
        }, ConsulJson.Api.ListServiceEntryWire);
    }

    private static Task<IResult> Checks(string service, HttpContext http, BlockingQuery blocking, ServerIdentity self)
    {
        QueryFilters.RequireLocalDatacenter(http.Request, self);
        return blocking.RespondAsync(http, Topics.Service(service),
            state => state.InstancesOf(service)
                .SelectMany(s => state.ChecksOf(s.Key))
                .Select(c => c.ToWire())
                .ToList(),
            ConsulJson.Api.ListHealthCheckWire);
    }

    private static Task<IResult> Node(string node, HttpContext http, BlockingQuery blocking, ServerIdentity self)
    {
        QueryFilters.RequireLocalDatacenter(http.Request, self);
        return blocking.RespondAsync(http, Topics.Node(node),
            state => state.ChecksOn(node).Select(c => c.ToWire()).ToList(),
            ConsulJson.Api.ListHealthCheckWire);
    }

    private static Task<IResult> State(string state, HttpContext http, BlockingQuery blocking, ServerIdentity self)
    {
        QueryFilters.RequireLocalDatacenter(http.Request, self);
        if (state != "any" && !HealthStatus.IsCheckStatus(state))
            throw ApiException.BadRequest($"Bad state \"{state}\": use any, passing, warning or critical");
        return blocking.RespondAsync(http, Topics.Checks,
            catalog => catalog.Checks.Values
                .Where(c => state == "any" || c.Status == state)
                .OrderBy(c => c.Key)
                .Select(c => c.ToWire())
                .ToList(),
            ConsulJson.Api.ListHealthCheckWire);
    }
}
