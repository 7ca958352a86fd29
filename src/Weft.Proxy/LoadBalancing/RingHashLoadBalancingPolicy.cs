using System.Collections.Immutable;
using System.Globalization;
using Weft.Core.Config;

namespace Weft.Proxy.LoadBalancing;

/// <summary>
/// Envoy's ring hash (Ketama). Each endpoint gets points on a 64-bit ring in proportion to its weight, the ring
/// sized as Envoy does: enough for the lightest endpoint to get at least its share of
/// <see cref="ClusterSettings.MinimumRingSize"/>, at most <see cref="ClusterSettings.MaximumRingSize"/>. A request
/// goes to the first point at or after its hash; if that endpoint is unavailable, to the next point's, so only
/// the keys of an ejected or already-tried endpoint move.
/// </summary>
internal sealed class RingHashLoadBalancingPolicy : ILoadBalancingPolicy
{
    private const int DefaultMinimumRingSize = 1024;
    private const int DefaultMaximumRingSize = 8 * 1024 * 1024;

    private readonly ImmutableArray<EndpointState> _endpoints;
    private readonly ImmutableArray<HashPolicy> _hashPolicies;
    private readonly ulong[] _points;
    private readonly int[] _owners;

    public RingHashLoadBalancingPolicy(ImmutableArray<EndpointState> endpoints, ClusterSettings settings)
    {
        _endpoints = endpoints;
        _hashPolicies = settings.HashPolicies;
        (_points, _owners) = BuildRing(endpoints, settings.MinimumRingSize, settings.MaximumRingSize);
    }

    internal int RingSize => _points.Length;

    public EndpointState? Pick(in PickContext context)
    {
        if (_points.Length == 0)
            return null;
        if (RequestHash.Compute(_hashPolicies, context.Request) is not { } hash)
            return context.RandomAvailable(_endpoints);

        var index = Array.BinarySearch(_points, hash);
        if (index < 0)
            index = ~index;
        for (var i = 0; i < _points.Length; i++)
        {
            var endpoint = _endpoints[_owners[(index + i) % _points.Length]];
            if (context.IsAvailable(endpoint))
                return endpoint;
        }
        return null;
    }

    private static (ulong[] Points, int[] Owners) BuildRing(ImmutableArray<EndpointState> endpoints, int minimumSize, int maximumSize)
    {
        if (endpoints.IsEmpty)
            return ([], []);
        var minimum = minimumSize > 0 ? minimumSize : DefaultMinimumRingSize;
        var maximum = maximumSize > 0 ? Math.Min(maximumSize, DefaultMaximumRingSize) : DefaultMaximumRingSize;
        minimum = Math.Min(minimum, maximum);

        double totalWeight = 0;
        foreach (var endpoint in endpoints)
            totalWeight += endpoint.Weight;
        var minNormalized = double.MaxValue;
        foreach (var endpoint in endpoints)
            minNormalized = Math.Min(minNormalized, endpoint.Weight / totalWeight);
        var scale = Math.Min(Math.Ceiling(minNormalized * minimum) / minNormalized, maximum);

        var points = new List<(ulong Hash, int Owner)>((int)Math.Ceiling(scale) + endpoints.Length);
        Span<char> key = stackalloc char[512];
        double current = 0, target = 0;
        for (var owner = 0; owner < endpoints.Length; owner++)
        {
            var prefix = StableHash.EndpointKey(endpoints[owner]) + "_";
            target += scale * endpoints[owner].Weight / totalWeight;
            for (var i = 0; current < target; i++, current++)
            {
                var text = prefix.Length + 20 <= key.Length
                    ? Format(key, prefix, i)
                    : (prefix + i.ToString(CultureInfo.InvariantCulture)).AsSpan();
                points.Add((StableHash.Of(text), owner));
            }
        }
        // Ties broken by owner so that the ring does not depend on the order endpoints arrived in.
        points.Sort((x, y) => x.Hash != y.Hash ? x.Hash.CompareTo(y.Hash) : StableHash.EndpointKey(endpoints[x.Owner]).CompareTo(StableHash.EndpointKey(endpoints[y.Owner]), StringComparison.Ordinal));

        var hashes = new ulong[points.Count];
        var owners = new int[points.Count];
        for (var i = 0; i < points.Count; i++)
            (hashes[i], owners[i]) = points[i];
        return (hashes, owners);
    }

    private static ReadOnlySpan<char> Format(Span<char> buffer, string prefix, int i)
    {
        prefix.CopyTo(buffer);
        i.TryFormat(buffer[prefix.Length..], out var written, provider: CultureInfo.InvariantCulture);
        return buffer[..(prefix.Length + written)];
    }
}
