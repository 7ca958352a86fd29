using System.Collections.Immutable;

namespace Weft.Proxy.LoadBalancing;

/// <summary>Weighted random: each available endpoint with probability weight / total available weight.</summary>
internal sealed class RandomLoadBalancingPolicy : ILoadBalancingPolicy
{
    private readonly ImmutableArray<EndpointState> _endpoints;
    private readonly long _totalWeight;
    private readonly bool _equalWeights;

    public RandomLoadBalancingPolicy(ImmutableArray<EndpointState> endpoints)
    {
        _endpoints = endpoints;
        _equalWeights = true;
        foreach (var endpoint in endpoints)
        {
            _totalWeight += endpoint.Weight;
            _equalWeights &= endpoint.Weight == endpoints[0].Weight;
        }
    }

    public EndpointState? Pick(in PickContext context)
    {
        if (_equalWeights)
            return context.RandomAvailable(_endpoints);

        var total = 0L;
        if (context.AllAvailable)
        {
            total = _totalWeight;
        }
        else
        {
            foreach (var endpoint in _endpoints)
            {
                if (context.IsAvailable(endpoint))
                    total += endpoint.Weight;
            }
        }
        if (total == 0)
            return null;

        var point = context.Random.NextInt64(total);
        foreach (var endpoint in _endpoints)
        {
            if (!context.AllAvailable && !context.IsAvailable(endpoint))
                continue;
            point -= endpoint.Weight;
            if (point < 0)
                return endpoint;
        }
        return null;
    }
}
