using System.Collections.Immutable;
using Weft.Core.Config;

namespace Weft.Proxy.LoadBalancing;

/// <summary>
/// Envoy's Maglev: a lookup table of <see cref="TableSize"/> (prime) slots filled by each endpoint's permutation
/// (offset = xxHash64(key, 0) mod M, skip = xxHash64(key, 1) mod (M − 1) + 1) in turns, a lighter endpoint
/// skipping turns in proportion to its weight. A request goes to the slot its hash selects; if that endpoint is
/// unavailable, to the next slot's. Same hash policies as ring hash.
/// </summary>
internal sealed class MaglevLoadBalancingPolicy : ILoadBalancingPolicy
{
    /// <summary>Envoy's default table size.</summary>
    public const int TableSize = 65537;

    private readonly ImmutableArray<EndpointState> _endpoints;
    private readonly ImmutableArray<HashPolicy> _hashPolicies;
    private readonly int[] _table;

    public MaglevLoadBalancingPolicy(ImmutableArray<EndpointState> endpoints, ClusterSettings settings)
    {
        _endpoints = endpoints;
        _hashPolicies = settings.HashPolicies;
        _table = endpoints.IsEmpty ? [] : BuildTable(endpoints);
    }

    public EndpointState? Pick(in PickContext context)
    {
        if (_table.Length == 0)
            return null;
        if (RequestHash.Compute(_hashPolicies, context.Request) is not { } hash)
            return context.RandomAvailable(_endpoints);

        var slot = (int)(hash % TableSize);
        for (var i = 0; i < TableSize; i++)
        {
            var endpoint = _endpoints[_table[(slot + i) % TableSize]];
            if (context.IsAvailable(endpoint))
                return endpoint;
        }
        return null;
    }

    private static int[] BuildTable(ImmutableArray<EndpointState> endpoints)
    {
        var count = endpoints.Length;
        var offset = new long[count];
        var skip = new long[count];
        var next = new long[count];
        var target = new long[count];
        var maxWeight = 0L;
        for (var i = 0; i < count; i++)
        {
            var key = StableHash.EndpointKey(endpoints[i]);
            offset[i] = (long)(StableHash.Of(key, 0) % TableSize);
            skip[i] = (long)(StableHash.Of(key, 1) % (TableSize - 1)) + 1;
            maxWeight = Math.Max(maxWeight, endpoints[i].Weight);
        }

        var table = new int[TableSize];
        Array.Fill(table, -1);
        var filled = 0;
        for (long iteration = 0; filled < TableSize; iteration++)
        {
            for (var i = 0; i < count && filled < TableSize; i++)
            {
                // An endpoint of the largest weight takes a slot every turn; one of a third of it every third turn.
                if (iteration * endpoints[i].Weight < target[i])
                    continue;
                target[i] += maxWeight;
                var slot = (offset[i] + skip[i] * next[i]) % TableSize;
                while (table[slot] >= 0)
                {
                    next[i]++;
                    slot = (offset[i] + skip[i] * next[i]) % TableSize;
                }
                table[slot] = i;
                next[i]++;
                filled++;
            }
        }
        return table;
    }
}
