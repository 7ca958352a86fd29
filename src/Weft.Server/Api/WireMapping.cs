using Weft.Core.Catalog;
using Weft.Core.Text;
using Weft.Server.Api.Wire;

namespace Weft.Server.Api;

/// <summary>Catalog records in Consul's response shapes.</summary>
internal static class WireMapping
{
    public static AgentServiceWire ToAgentService(this ServiceRecord s, string datacenter, bool withIndexes = false) => new()
    {
        Id = s.Id,
        Service = s.Name,
        Tags = s.Tags,
        Meta = s.Meta,
        Port = s.Port,
        Address = s.Address,
        Weights = new WeightsWire { Passing = s.Weights.Passing, Warning = s.Weights.Warning },
        EnableTagOverride = s.EnableTagOverride,
        Datacenter = datacenter,
        CreateIndex = withIndexes ? s.CreateIndex : 0,
        ModifyIndex = withIndexes ? s.ModifyIndex : 0,
    };

    public static NodeWire ToWire(this NodeRecord n) => new()
    {
        Id = n.Id,
        Node = n.Name,
        Address = n.Address,
        Datacenter = n.Datacenter,
        TaggedAddresses = n.TaggedAddresses,
        Meta = n.Meta,
        CreateIndex = n.CreateIndex,
        ModifyIndex = n.ModifyIndex,
    };

    public static CatalogServiceWire ToCatalogService(this ServiceRecord s, NodeRecord? node) => new()
    {
        Id = node?.Id ?? "",
        Node = s.Node,
        Address = node?.Address ?? "",
        Datacenter = node?.Datacenter ?? "",
        TaggedAddresses = node?.TaggedAddresses ?? (IReadOnlyDictionary<string, string>)new Dictionary<string, string>(),
        NodeMeta = node?.Meta ?? (IReadOnlyDictionary<string, string>)new Dictionary<string, string>(),
        ServiceId = s.Id,
        ServiceName = s.Name,
        ServiceTags = s.Tags,
        ServiceAddress = s.Address,
        ServiceWeights = new WeightsWire { Passing = s.Weights.Passing, Warning = s.Weights.Warning },
        ServiceMeta = s.Meta,
        ServicePort = s.Port,
        ServiceEnableTagOverride = s.EnableTagOverride,
        CreateIndex = s.CreateIndex,
        ModifyIndex = s.ModifyIndex,
    };

    public static HealthCheckWire ToWire(this CheckRecord c)
    {
        var d = c.Definition;
        return new HealthCheckWire
        {
            Node = c.Node,
            CheckId = c.Id,
            Name = c.Name,
            Status = c.Status,
            Notes = c.Notes,
            Output = c.Output,
            ServiceId = c.ServiceId,
            ServiceName = c.ServiceName,
            ServiceTags = c.ServiceTags,
            Type = c.Type,
            Interval = d is null || d.Interval == TimeSpan.Zero ? "" : GoDuration.Format(d.Interval),
            Timeout = d is null || d.Timeout == TimeSpan.Zero ? "" : GoDuration.Format(d.Timeout),
            Definition = d is null ? new CheckDefinitionWire() : new CheckDefinitionWire
            {
                Http = Empty(d.Http),
                Header = d.Header.Count == 0 ? null : d.Header.ToDictionary(h => h.Key, h => (IReadOnlyList<string>)h.Value),
                Method = Empty(d.Method),
                Body = Empty(d.Body),
                TlsSkipVerify = d.TlsSkipVerify,
                Tcp = Empty(d.Tcp),
                Grpc = Empty(d.Grpc),
                GrpcUseTls = d.GrpcUseTls,
                ScriptArgs = d.Args.IsDefaultOrEmpty ? null : d.Args,
                Interval = d.Interval == TimeSpan.Zero ? null : GoDuration.Format(d.Interval),
                Timeout = d.Timeout == TimeSpan.Zero ? null : GoDuration.Format(d.Timeout),
                Ttl = d.Ttl == TimeSpan.Zero ? null : GoDuration.Format(d.Ttl),
                DeregisterCriticalServiceAfter = d.DeregisterCriticalServiceAfter == TimeSpan.Zero ? null : GoDuration.Format(d.DeregisterCriticalServiceAfter),
            },
            CreateIndex = c.CreateIndex,
            ModifyIndex = c.ModifyIndex,
        };
    }

    private static string? Empty(string value) => value.Length == 0 ? null : value;
}
