namespace Weft.Server.Registry;

/// <summary>Who this server is in the catalog: its node, as a Consul agent is the node of its registrations.</summary>
internal sealed record ServerIdentity(string NodeName, string NodeId, string Datacenter, string Address);
