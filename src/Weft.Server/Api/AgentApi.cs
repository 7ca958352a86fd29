using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Weft.Core.Catalog;
using Weft.Server.Api.Wire;
using Weft.Server.Catalog;
using Weft.Server.Health;
using Weft.Server.Mesh;
using Weft.Server.Registry;

namespace Weft.Server.Api;

/// <summary><c>/v1/agent/*</c>: this server acting as the Consul agent of its own node.</summary>
internal static class AgentApi
{
    public static void MapAgentApi(this IEndpointRouteBuilder app)
    {
        var agent = app.MapGroup("/v1/agent");
        agent.MapPut("/service/register", RegisterService);
        agent.MapPut("/service/deregister/{*serviceId}", DeregisterService);
        agent.MapGet("/services", Services);
        agent.MapGet("/service/{*serviceId}", Service);
        agent.MapGet("/checks", Checks);
        agent.MapPut("/check/register", RegisterCheck);
        agent.MapPut("/check/deregister/{*checkId}", DeregisterCheck);
        agent.MapPut("/check/pass/{*checkId}", (string checkId, HttpRequest request, CheckScheduler health, ServerIdentity self) =>
            MarkTtl(checkId, HealthStatus.Passing, request, health, self));
        agent.MapPut("/check/warn/{*checkId}", (string checkId, HttpRequest request, CheckScheduler health, ServerIdentity self) =>
            MarkTtl(checkId, HealthStatus.Warning, request, health, self));
        agent.MapPut("/check/fail/{*checkId}", (string checkId, HttpRequest request, CheckScheduler health, ServerIdentity self) =>
            MarkTtl(checkId, HealthStatus.Critical, request, health, self));
        agent.MapPut("/check/update/{*checkId}", UpdateCheck);
        agent.MapGet("/self", Self);
        agent.MapGet("/members", Members);
    }

    private static async Task<IResult> RegisterService(HttpRequest request, CatalogStore catalog, RegistryOperations registry)
    {
        var body = await RequestBody.ReadAsync(request, ConsulJson.Api.ServiceRegistrationRequest);
        var (service, checks) = registry.FromRequest(body);
        var replace = IsSet(request, "replace-existing-checks");
        await catalog.WriteAsync(tx => registry.RegisterService(tx, service, checks, replace));
        return TypedResults.Ok();
    }

    private static async Task<IResult> DeregisterService(string serviceId, CatalogStore catalog, RegistryOperations registry)
    {
        await catalog.WriteAsync(tx => registry.DeregisterService(tx, serviceId));
        return TypedResults.Ok();
    }

    private static Task<IResult> Services(HttpContext http, BlockingQuery blocking, ServerIdentity self) =>
        blocking.RespondAsync(http, Topics.Node(self.NodeName),
            state => state.ServicesOn(self.NodeName).ToDictionary(s => s.Id, s => s.ToAgentService(self.Datacenter)),
            ConsulJson.Api.DictionaryStringAgentServiceWire);

    private static async Task<IResult> Service(string serviceId, HttpContext http, BlockingQuery blocking, ServerIdentity self)
    {
        var state = await blocking.WaitAsync(http, Topics.Node(self.NodeName));
        var service = state.Services.GetValueOrDefault(new ServiceKey(self.NodeName, serviceId))
            ?? throw ApiException.NotFound($"unknown service ID: {serviceId}");
        return TypedResults.Json(service.ToAgentService(self.Datacenter), ConsulJson.Api.AgentServiceWire);
    }

    private static Task<IResult> Checks(HttpContext http, BlockingQuery blocking, ServerIdentity self) =>
        blocking.RespondAsync(http, Topics.Node(self.NodeName),
            state => state.ChecksOn(self.NodeName).ToDictionary(c => c.Id, c => c.ToWire()),
            ConsulJson.Api.DictionaryStringHealthCheckWire);

    private static async Task<IResult> RegisterCheck(HttpRequest request, CatalogStore catalog, RegistryOperations registry)
    {
        var body = await RequestBody.ReadAsync(request, ConsulJson.Api.CheckRegistrationRequest);
        var check = registry.FromRequest(body);
        await catalog.WriteAsync(tx => registry.RegisterCheck(tx, check));
        return TypedResults.Ok();
    }

    private static async Task<IResult> DeregisterCheck(string checkId, CatalogStore catalog, RegistryOperations registry)
    {
        await catalog.WriteAsync(tx => registry.DeregisterCheck(tx, checkId));
        return TypedResults.Ok();
    }

    private static async Task<IResult> MarkTtl(string checkId, string status, HttpRequest request, CheckScheduler health, ServerIdentity self)
    {
        await health.ReportTtlAsync(new CheckKey(self.NodeName, checkId), status, request.Query["note"].ToString());
        return TypedResults.Ok();
    }

    private static async Task<IResult> UpdateCheck(string checkId, HttpRequest request, CheckScheduler health, ServerIdentity self)
    {
        var body = await RequestBody.ReadAsync(request, ConsulJson.Api.CheckUpdateRequest);
        if (!HealthStatus.IsCheckStatus(body.Status))
            throw ApiException.BadRequest($"Invalid check status \"{body.Status}\": use passing, warning or critical");
        await health.ReportTtlAsync(new CheckKey(self.NodeName, checkId), body.Status!, body.Output ?? "");
        return TypedResults.Ok();
    }

    private static IResult Self(HttpContext http, CatalogStore catalog, ServerIdentity self, MeshListener mesh)
    {
        BlockingQuery.SetHeaders(http.Response, catalog.Current.Index);
        return TypedResults.Json(new AgentSelfWire
        {
            Config = new AgentConfigWire
            {
                Datacenter = self.Datacenter,
                PrimaryDatacenter = self.Datacenter,
                NodeName = self.NodeName,
                NodeId = self.NodeId,
                Revision = "weft",
                Version = WeftVersion.Current,
            },
            Member = Member(self),
            Meta = new Dictionary<string, string>(),
            Weft = new AgentWeftWire { GrpcAddress = mesh.Address },
        }, ConsulJson.Api.AgentSelfWire);
    }

    private static IResult Members(HttpContext http, CatalogStore catalog, ServerIdentity self)
    {
        BlockingQuery.SetHeaders(http.Response, catalog.Current.Index);
        return TypedResults.Json(new List<MemberWire> { Member(self) }, ConsulJson.Api.ListMemberWire);
    }

    private static MemberWire Member(ServerIdentity self) => new()
    {
        Name = self.NodeName,
        Addr = self.Address,
        Port = 8301,
        Tags = new Dictionary<string, string>
        {
            ["role"] = "consul",
            ["dc"] = self.Datacenter,
            ["build"] = WeftVersion.Current + ":weft",
            ["id"] = self.NodeId,
            ["vsn"] = "2",
        },
    };

    private static bool IsSet(HttpRequest request, string name) =>
        request.Query.TryGetValue(name, out var value) && (value.ToString().Length == 0 || !bool.TryParse(value, out var flag) || flag);
}
