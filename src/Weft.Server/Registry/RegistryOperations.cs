using System.Collections.Immutable;
using Weft.Core.Catalog;
using Weft.Server.Api;
using Weft.Server.Api.Wire;

namespace Weft.Server.Registry;

/// <summary>A check about to be written, and whether the request chose its status.</summary>
internal sealed record PendingCheck(CheckRecord Record, bool StatusGiven);

/// <summary>
/// Consul's registration semantics as operations on a catalog transaction. Requests are validated and turned
/// into records before they reach the writer (<see cref="FromRequest"/>); what depends on the catalog's current
/// contents (does this service exist?) is decided on the writer, inside the transaction.
/// </summary>
internal sealed class RegistryOperations(ServerIdentity self, CheckDefinitions definitions)
{
    public ServerIdentity Self => self;

    public (ServiceRecord Service, List<PendingCheck> Checks) FromRequest(ServiceRegistrationRequest request)
    {
        var name = Validation.RequireName(request.Name, "service name");
        var id = string.IsNullOrEmpty(request.Id) ? name : Validation.RequireName(request.Id, "service ID");
        if (!string.IsNullOrEmpty(request.Kind) && request.Kind != "typical")
            throw ApiException.BadRequest($"Invalid Kind \"{request.Kind}\": Weft registers typical services only; sidecars register themselves");
        Validation.Meta(request.Meta);
        var weights = request.Weights ?? new WeightsWire();
        Validation.Weights(weights.Passing, weights.Warning);

        var service = new ServiceRecord
        {
            Node = self.NodeName,
            Id = id,
            Name = name,
            Tags = [.. request.Tags ?? []],
            Address = request.Address ?? "",
            Port = Validation.Port(request.Port),
            Meta = (request.Meta ?? []).ToImmutableSortedDictionary(StringComparer.Ordinal),
            Weights = new ServiceWeights(weights.Passing, weights.Warning),
            EnableTagOverride = request.EnableTagOverride ?? false,
        };

        var requested = new List<CheckRegistrationRequest>();
        if (request.Check is not null) requested.Add(request.Check);
        requested.AddRange(request.Checks ?? []);

        var checks = new List<PendingCheck>(requested.Count);
        for (var i = 0; i < requested.Count; i++)
        {
            var c = requested[i];
            var definition = definitions.From(c)
                ?? throw ApiException.BadRequest("Invalid check: give one of HTTP, TCP, GRPC, TTL or Args");
            // Consul's IDs: "service:<id>" for a single check, "service:<id>:<n>" (1-based) for several.
            var checkId = FirstNonEmpty(c.CheckId, c.Id) ?? (requested.Count > 1 ? $"service:{id}:{i + 1}" : $"service:{id}");
            checks.Add(new PendingCheck(new CheckRecord
            {
                Node = self.NodeName,
                Id = checkId,
                Name = FirstNonEmpty(c.Name) ?? $"Service '{name}' check",
                Status = CheckDefinitions.InitialStatus(c.Status),
                Notes = c.Notes ?? "",
                ServiceId = id,
                ServiceName = name,
                ServiceTags = service.Tags,
                Definition = definition,
            }, !string.IsNullOrEmpty(c.Status)));
        }

        if (checks.Select(c => c.Record.Id).Distinct(StringComparer.Ordinal).Count() != checks.Count)
            throw ApiException.BadRequest("Invalid check: two checks have the same ID");
        return (service, checks);
    }

    public PendingCheck FromRequest(CheckRegistrationRequest request)
    {
        var name = Validation.RequireName(request.Name, "check name");
        var definition = definitions.From(request)
            ?? throw ApiException.BadRequest("Invalid check: give one of HTTP, TCP, GRPC, TTL or Args");
        return new PendingCheck(new CheckRecord
        {
            Node = self.NodeName,
            Id = FirstNonEmpty(request.CheckId, request.Id) ?? name,
            Name = name,
            Status = CheckDefinitions.InitialStatus(request.Status),
            Notes = request.Notes ?? "",
            ServiceId = request.ServiceId ?? "",
            Definition = definition,
        }, !string.IsNullOrEmpty(request.Status));
    }

    /// <summary>Registers (or replaces) a service and its checks, as <c>PUT /v1/agent/service/register</c>.</summary>
    public void RegisterService(CatalogTransaction tx, ServiceRecord service, IReadOnlyList<PendingCheck> checks, bool replaceExistingChecks)
    {
        EnsureNode(tx, self.NodeName, self.Address, self.NodeId);
        tx.PutService(service);

        var existing = tx.State.ChecksOf(service.Key).ToList();
        foreach (var check in checks)
            PutCheck(tx, check);

        var sent = checks.Select(c => c.Record.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var old in existing)
        {
            if (sent.Contains(old.Id)) continue;
            if (replaceExistingChecks) tx.DeleteCheck(old.Key);
            else tx.PutCheck(old with { ServiceName = service.Name, ServiceTags = service.Tags });
        }
    }

    /// <summary>Registers a check on this node, for one of its services or the node itself.</summary>
    public void RegisterCheck(CatalogTransaction tx, PendingCheck check)
    {
        var record = check.Record;
        if (record.ServiceId.Length > 0)
        {
            var service = tx.State.Services.GetValueOrDefault(new ServiceKey(record.Node, record.ServiceId))
                ?? throw ApiException.BadRequest($"ServiceID \"{record.ServiceId}\" does not exist");
            check = check with { Record = record with { ServiceName = service.Name, ServiceTags = service.Tags } };
        }

        EnsureNode(tx, self.NodeName, self.Address, self.NodeId);
        PutCheck(tx, check);
    }

    public void DeregisterService(CatalogTransaction tx, string serviceId)
    {
        if (!tx.DeleteService(new ServiceKey(self.NodeName, serviceId)))
            throw ApiException.NotFound($"Unknown service ID \"{serviceId}\". Ensure that the service ID is passed, not the service name.");
    }

    public void DeregisterCheck(CatalogTransaction tx, string checkId)
    {
        if (!tx.DeleteCheck(new CheckKey(self.NodeName, checkId)))
            throw ApiException.NotFound($"Unknown check ID \"{checkId}\". Ensure that the check ID is passed, not the check name.");
    }

    /// <summary>Sets a check's status and output; returns the record as it now is.</summary>
    public static CheckRecord UpdateStatus(CatalogTransaction tx, CheckKey key, string status, string output)
    {
        var check = tx.State.Checks.GetValueOrDefault(key)
            ?? throw ApiException.NotFound($"Unknown check ID \"{key.Id}\". Ensure that the check ID is passed, not the check name.");
        var updated = check with { Status = status, Output = output };
        tx.PutCheck(updated);
        return updated;
    }

    /// <summary><c>PUT /v1/catalog/register</c>: a node, and optionally one service and its checks.</summary>
    public void CatalogRegister(CatalogTransaction tx, CatalogRegistrationRequest request)
    {
        var node = Validation.RequireName(request.Node, "node name");
        if (!string.IsNullOrEmpty(request.Datacenter) && request.Datacenter != self.Datacenter)
            throw ApiException.BadRequest($"No path to datacenter \"{request.Datacenter}\"");
        Validation.Meta(request.NodeMeta);

        if (!request.SkipNodeUpdate || !tx.State.Nodes.ContainsKey(node))
        {
            if (string.IsNullOrWhiteSpace(request.Address))
                throw ApiException.BadRequest("Must provide address");
            var existing = tx.State.Nodes.GetValueOrDefault(node);
            tx.PutNode(new NodeRecord
            {
                Name = node,
                Id = request.Id ?? existing?.Id ?? "",
                Address = request.Address,
                Datacenter = self.Datacenter,
                TaggedAddresses = (request.TaggedAddresses ?? []).ToImmutableSortedDictionary(StringComparer.Ordinal),
                Meta = (request.NodeMeta ?? []).ToImmutableSortedDictionary(StringComparer.Ordinal),
            });
        }

        if (request.Service is { } s)
        {
            var name = Validation.RequireName(s.Service, "service name");
            Validation.Meta(s.Meta);
            var weights = s.Weights ?? new WeightsWire();
            Validation.Weights(weights.Passing, weights.Warning);
            tx.PutService(new ServiceRecord
            {
                Node = node,
                Id = string.IsNullOrEmpty(s.Id) ? name : s.Id,
                Name = name,
                Tags = [.. s.Tags ?? []],
                Address = s.Address ?? "",
                Port = Validation.Port(s.Port),
                Meta = (s.Meta ?? []).ToImmutableSortedDictionary(StringComparer.Ordinal),
                Weights = new ServiceWeights(weights.Passing, weights.Warning),
                EnableTagOverride = s.EnableTagOverride ?? false,
            });
        }

        var checks = new List<CatalogCheckRequest>();
        if (request.Check is not null) checks.Add(request.Check);
        checks.AddRange(request.Checks ?? []);
        foreach (var c in checks)
        {
            var checkId = Validation.RequireName(FirstNonEmpty(c.CheckId, c.Name), "check ID");
            if (!string.IsNullOrEmpty(c.Node) && c.Node != node)
                throw ApiException.BadRequest($"Check node \"{c.Node}\" does not match registration node \"{node}\"");
            var serviceId = c.ServiceId ?? "";
            var owner = serviceId.Length == 0 ? null
                : tx.State.Services.GetValueOrDefault(new ServiceKey(node, serviceId))
                    ?? throw ApiException.BadRequest($"Check \"{checkId}\" refers to unknown service ID \"{serviceId}\"");
            tx.PutCheck(new CheckRecord
            {
                Node = node,
                Id = checkId,
                Name = FirstNonEmpty(c.Name) ?? checkId,
                Status = CheckDefinitions.InitialStatus(c.Status),
                Notes = c.Notes ?? "",
                Output = c.Output ?? "",
                ServiceId = serviceId,
                ServiceName = owner?.Name ?? "",
                ServiceTags = owner?.Tags ?? [],
            });
        }
    }

    /// <summary><c>PUT /v1/catalog/deregister</c>: a check, a service, or a whole node.</summary>
    public void CatalogDeregister(CatalogTransaction tx, CatalogDeregistrationRequest request)
    {
        var node = Validation.RequireName(request.Node, "node name");
        if (!string.IsNullOrEmpty(request.Datacenter) && request.Datacenter != self.Datacenter)
            throw ApiException.BadRequest($"No path to datacenter \"{request.Datacenter}\"");
        if (!string.IsNullOrEmpty(request.ServiceId))
            tx.DeleteService(new ServiceKey(node, request.ServiceId));
        if (!string.IsNullOrEmpty(request.CheckId))
            tx.DeleteCheck(new CheckKey(node, request.CheckId));
        if (string.IsNullOrEmpty(request.ServiceId) && string.IsNullOrEmpty(request.CheckId))
            tx.DeleteNode(node);
    }

    /// <summary>This server's own node and its always-passing node check, as a Consul agent has.</summary>
    public void RegisterSelf(CatalogTransaction tx)
    {
        EnsureNode(tx, self.NodeName, self.Address, self.NodeId);
        tx.PutCheck(new CheckRecord
        {
            Node = self.NodeName,
            Id = "serfHealth",
            Name = "Serf Health Status",
            Status = HealthStatus.Passing,
            Output = "Agent alive and reachable",
        });
    }

    private void EnsureNode(CatalogTransaction tx, string name, string address, string id)
    {
        if (tx.State.Nodes.TryGetValue(name, out var node) && node.Address == address && node.Id == id) return;
        tx.PutNode(new NodeRecord { Name = name, Id = id, Address = address, Datacenter = self.Datacenter });
    }

    private static void PutCheck(CatalogTransaction tx, PendingCheck check)
    {
        var record = check.Record;
        // Re-registering keeps what the check last saw unless the request sets a status, so a client that
        // re-registers on every reconnect does not flap its service to critical.
        if (!check.StatusGiven && tx.State.Checks.TryGetValue(record.Key, out var old))
            record = record with { Status = old.Status, Output = old.Output };
        tx.PutCheck(record);
    }

    private static string? FirstNonEmpty(params string?[] values) => values.FirstOrDefault(v => !string.IsNullOrEmpty(v));
}
