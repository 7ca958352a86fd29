using System.Collections.Immutable;
using Weft.Core.Config;

namespace Weft.Core.Mesh;

/// <summary>Metadata keys Weft sets on the instances its sidecars register.</summary>
public static class MeshMeta
{
    /// <summary>"true" on an instance registered by <c>weft proxy</c>: its address is the sidecar's inbound listener.</summary>
    public const string Sidecar = "weft-sidecar";

    /// <summary>
    /// host:port of the sidecar's admin listener (<c>/metrics</c>, <c>/ready</c>) on an instance registered by
    /// <c>weft proxy</c>; <c>/v1/prometheus/sd</c> lists the instances that carry it.
    /// </summary>
    public const string Admin = "weft-admin";
}

/// <summary>One instance a sidecar may send to: where, how healthy, how heavy.</summary>
public sealed record MeshEndpoint
{
    public required string Id { get; init; }
    public required string Node { get; init; }
    public required string Address { get; init; }
    public required int Port { get; init; }

    /// <summary><c>passing</c> or <c>warning</c> (critical instances are not sent).</summary>
    public string Health { get; init; } = "passing";

    /// <summary>From the instance's <c>Weights</c> by its health.</summary>
    public int Weight { get; init; } = 1;

    public ImmutableSortedDictionary<string, string> Meta { get; init; } = ImmutableSortedDictionary<string, string>.Empty;
    public ImmutableArray<string> Tags { get; init; } = [];

    /// <summary>Reached through its sidecar (HTTP/2 between sidecars), not directly.</summary>
    public bool Sidecar => Meta.TryGetValue(MeshMeta.Sidecar, out var v) && v == "true";

    public string HostPort => Address.Contains(':') ? $"[{Address}]:{Port}" : $"{Address}:{Port}";
}

/// <summary>
/// Everything the control plane tells a sidecar, as one immutable, versioned snapshot: the healthy endpoints
/// of every service, and every config entry. The stream delivers a full snapshot first and then deltas; the
/// sidecar's stream client folds deltas into the next snapshot and hands each to the data plane whole.
/// </summary>
public sealed record MeshSnapshot
{
    public static readonly MeshSnapshot Empty = new();

    /// <summary>The control plane's version of this snapshot (its catalog index); 0 before the first.</summary>
    public ulong Version { get; init; }

    /// <summary>Service name → its instances that are passing or warning.</summary>
    public ImmutableDictionary<string, ImmutableArray<MeshEndpoint>> Endpoints { get; init; } = ImmutableDictionary<string, ImmutableArray<MeshEndpoint>>.Empty;

    /// <summary>(kind, name) → entry.</summary>
    public ImmutableDictionary<(string Kind, string Name), ConfigEntry> Entries { get; init; } = ImmutableDictionary<(string Kind, string Name), ConfigEntry>.Empty;

    /// <summary>
    /// What the sidecar decides for an inbound call no intention matches. False (deny) until the control plane says
    /// otherwise: a sidecar that has not heard from it yet lets no one in.
    /// </summary>
    public bool IntentionsDefaultAllow { get; init; }

    public T? Entry<T>(string kind, string name) where T : ConfigEntry =>
        Entries.TryGetValue((kind, name), out var entry) ? entry as T : null;

    public bool HasService(string name) => Endpoints.ContainsKey(name);
}

/// <summary>The data plane's side of the stream: try a snapshot, say whether it was applied.</summary>
public interface IMeshConfigSink
{
    /// <summary>Compiles and swaps in the snapshot; on failure keeps the previous one and returns why.</summary>
    MeshApplyResult Apply(MeshSnapshot snapshot);
}

public readonly record struct MeshApplyResult(bool Applied, string? Error)
{
    public static readonly MeshApplyResult Ok = new(true, null);

    public static MeshApplyResult Rejected(string error) => new(false, error);
}
