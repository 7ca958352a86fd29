using System.Collections.Immutable;
using Google.Protobuf;
using Weft.Core.Catalog;
using Weft.Core.Config;
using Weft.Core.Mesh.Protocol;

namespace Weft.Core.Mesh;

/// <summary>
/// The stream's two ends in one place: what the server reads off the catalog for a service, and how the
/// sidecar folds a snapshot or a delta into the next <see cref="MeshSnapshot"/>.
/// </summary>
internal static class MeshWire
{
    /// <summary>The TTL check the server keeps passing while the sidecar's stream is open.</summary>
    public static string HeartbeatCheckId(string proxyId) => "sidecar:" + proxyId;

    /// <summary>A service's passing and warning instances, ordered by node and ID; null when it has no instances.</summary>
    public static EndpointSet? EndpointsOf(CatalogState state, string service)
    {
        if (!state.ServicesByName.TryGetValue(service, out var keys)) return null;
        var set = new EndpointSet { Service = service };
        foreach (var key in keys)
        {
            var instance = state.Services[key];
            var health = HealthStatus.Passing;
            foreach (var check in state.ChecksFor(instance))
                health = HealthStatus.Worst(health, check.Status);
            if (health is not (HealthStatus.Passing or HealthStatus.Warning)) continue;

            var endpoint = new Endpoint
            {
                Id = instance.Id,
                Node = instance.Node,
                Address = instance.Address.Length > 0 ? instance.Address : state.Nodes.GetValueOrDefault(instance.Node)?.Address ?? "",
                Port = instance.Port,
                Health = health,
                Weight = health == HealthStatus.Passing ? instance.Weights.Passing : instance.Weights.Warning,
            };
            endpoint.Meta.Add(instance.Meta);
            endpoint.Tags.Add(instance.Tags);
            set.Endpoints.Add(endpoint);
        }

        return set;
    }

    public static Entry ToWire(ConfigEntry entry) => new()
    {
        Kind = entry.Kind,
        Name = entry.Name,
        Json = ByteString.CopyFrom(ConfigEntryJson.Serialize(entry)),
    };

    /// <summary>
    /// Folds one server message into <paramref name="previous"/> (ignored when the message is full). Throws
    /// <see cref="System.Text.Json.JsonException"/> when an entry does not parse.
    /// </summary>
    public static MeshSnapshot Fold(MeshSnapshot previous, ServerMessage message)
    {
        var endpoints = message.Full ? ImmutableDictionary.CreateBuilder<string, ImmutableArray<MeshEndpoint>>() : previous.Endpoints.ToBuilder();
        var entries = message.Full ? ImmutableDictionary.CreateBuilder<(string, string), ConfigEntry>() : previous.Entries.ToBuilder();
        foreach (var name in message.RemovedServices)
            endpoints.Remove(name);
        foreach (var set in message.EndpointSets)
            endpoints[set.Service] = [.. set.Endpoints.Select(FromWire)];
        foreach (var key in message.RemovedEntries)
            entries.Remove((key.Kind, key.Name));
        foreach (var entry in message.Entries)
            entries[(entry.Kind, entry.Name)] = ConfigEntryJson.Parse(entry.Json.Span);
        return new MeshSnapshot
        {
            Version = message.Version,
            Endpoints = endpoints.ToImmutable(),
            Entries = entries.ToImmutable(),
            IntentionsDefaultAllow = message.Full ? message.IntentionsDefaultAllow : previous.IntentionsDefaultAllow,
        };
    }

    private static MeshEndpoint FromWire(Endpoint e) => new()
    {
        Id = e.Id,
        Node = e.Node,
        Address = e.Address,
        Port = e.Port,
        Health = e.Health,
        Weight = e.Weight,
        Meta = e.Meta.ToImmutableSortedDictionary(StringComparer.Ordinal),
        Tags = [.. e.Tags],
    };
}
