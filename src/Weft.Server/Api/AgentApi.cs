using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Weft.Core.Catalog;
using Weft.Server.Acl;
using Weft.Server.Api.Wire;
using Weft.Server.Catalog;
using Weft.Server.Health;
using Weft.Server.Mesh;
using Weft.Server.Registry;

namespace Weft.Server.Api;

/// <summary>
/// <c>/v1/agent/*</c>: this server acting as the Consul agent of its own node. Writes need write on the service
/// they touch (a service token: its own service only); node-level checks need the management token.
/// </summary>
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
        agent.MapPut("/check/pass/{*checkId}", (string checkId, HttpRequest request, CheckScheduler health, CatalogStore catalog, ServerIdentity self) =>
            MarkTtl(checkId, HealthStatus.Passing, request, health, catalog, self));
        agent.MapPut("/check/warn/{*checkId}", (string checkId, HttpRequest request, CheckScheduler health, CatalogStore catalog, ServerIdentity self) =>
            MarkTtl(checkId, HealthStatus.Warning, request, health, catalog, self));
        agent.MapPut("/check/fail/{*checkId}", (string checkId, HttpRequest request, CheckScheduler health, CatalogStore catalog, ServerIdentity self) =>
            MarkTtl(checkId, HealthStatus.Critical, request, health, catalog, self));
        agent.MapPut("/check/update/{*checkId}", UpdateCheck);
        agent.MapGet("/self", Self);
        agent.MapGet("/members", Members);
    }

    private static async Task<IResult> RegisterService(HttpRequest request, CatalogStore catalog, RegistryOperations registry)
    {
        var identity = AclIdentity.Of(request.HttpContext);
        var body = await RequestBody.ReadAsync(request, ConsulJson.Api.ServiceRegistrationRequest);
        var (service, checks) = registry.FromRequest(body);
        identity.ServiceWrite(service.Name);
        var replace = IsSet(request, "replace-existing-checks");
        await catalog.WriteAsync(tx =>
        {
            // Re-registering an ID, or reusing a check ID, takes it over: that needs write on its current owner too.
            if (tx.State.Services.GetValueOrDefault(service.Key) is { } existing) identity.ServiceWrite(existing.Name);
            foreach (var check in checks)
                DemandCheck(identity, tx.State.Checks.GetValueOrDefault(check.Record.Key));
            registry.RegisterService(tx, service, checks, replace);
        });
        return TypedResults.Ok();
    }

    private static async Task<IResult> DeregisterService(string serviceId, HttpContext http, CatalogStore catalog, RegistryOperations registry, ServerIdentity self)
    {
        var identity = AclIdentity.Of(http);
        await catalog.WriteAsync(tx =>
        {
            if (tx.State.Services.GetValueOrDefault(new ServiceKey(self.NodeName, serviceId)) is { } existing) identity.ServiceWrite(existing.Name);
            registry.DeregisterService(tx, serviceId);
        });
        return TypedResults.Ok();
    }

    /// <summary>A service's check needs write on that service; a check of the node itself, the management token.</summary>
    private static void DemandCheck(AclIdentity identity, CheckRecord? check)
    {
        if (check is null) return;
        if (check.ServiceName.Length == 0) identity.Management("node:write");
        else identity.ServiceWrite(check.ServiceName);
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
        var identity = AclIdentity.Of(request.HttpContext);
        var body = await RequestBody.ReadAsync(request, ConsulJson.Api.CheckRegistrationRequest);
        var check = registry.FromRequest(body);
        await catalog.WriteAsync(tx =>
        {
            var owner = check.Record.ServiceId.Length == 0 ? null : tx.State.Services.GetValueOrDefault(new ServiceKey(check.Record.Node, check.Record.ServiceId));
            if (owner is not null) identity.ServiceWrite(owner.Name);
            else if (check.Record.ServiceId.Length == 0) identity.Management("node:write");
            DemandCheck(identity, tx.State.Checks.GetValueOrDefault(check.Record.Key));
            registry.RegisterCheck(tx, check);
        });
        return TypedResults.Ok();
    }

    private static async Task<IResult> DeregisterCheck(string checkId, HttpContext http, CatalogStore catalog, RegistryOperations registry, ServerIdentity self)
    {
        var identity = AclIdentity.Of(http);
        await catalog.WriteAsync(tx =>
        {
            DemandCheck(identity, tx.State.Checks.GetValueOrDefault(new CheckKey(self.NodeName, checkId)));
            registry.DeregisterCheck(tx, checkId);
        });
        return TypedResults.Ok();
    }

    private static async Task<IResult> MarkTtl(string checkId, string status, HttpRequest request, CheckScheduler health, CatalogStore catalog, ServerIdentity self)
    {
        var key = new CheckKey(self.NodeName, checkId);
        DemandCheck(AclIdentity.Of(request.HttpContext), catalog.Current.Checks.GetValueOrDefault(key));
        await health.ReportTtlAsync(key, status, request.Query["note"].ToString());
        return TypedResults.Ok();
    }

    private static async Task<IResult> UpdateCheck(string checkId, HttpRequest request, CheckScheduler health, CatalogStore catalog, ServerIdentity self)
    {
        var key = new CheckKey(self.NodeName, checkId);
        DemandCheck(AclIdentity.Of(request.HttpContext), catalog.Current.Checks.GetValueOrDefault(key));
        var body = await RequestBody.ReadAsync(request, ConsulJson.Api.CheckUpdateRequest);
        if (!HealthStatus.IsCheckStatus(body.Status))
            throw ApiException.BadRequest($"Invalid check status \"{body.Status}\": use passing, warning or critical");
        await health.ReportTtlAsync(key, body.Status!, body.Output ?? "");
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
