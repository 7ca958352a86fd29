using System.Collections.Immutable;

namespace Weft.Proxy.LoadBalancing;

/// <summary>
/// Envoy's least request: draw <see cref="ClusterSettings.ChoiceCount"/> available endpoints at random (with
/// replacement, as Envoy) and take the one with the fewest outstanding requests, the first drawn on a tie.
/// With unequal weights the score is (outstanding + 1) / weight, Envoy's active-request bias of 1.0 applied inside
/// the random choices instead of Envoy's EDF scheduler: a heavier endpoint wins comparisons at equal load.
/// </summary>
internal sealed class LeastRequestLoadBalancingPolicy : ILoadBalancingPolicy
{
    private const int DefaultChoiceCount = 2;

    private readonly ImmutableArray<EndpointState> _endpoints;
    private readonly int _choiceCount;
    private readonly bool _equalWeights;

    public LeastRequestLoadBalancingPolicy(ImmutableArray<EndpointState> endpoints, int choiceCount)
    {
        _endpoints = endpoints;
        _choiceCount = choiceCount >= 1 ? choiceCount : DefaultChoiceCount;
        _equalWeights = true;
        foreach (var endpoint in endpoints)
            _equalWeights &= endpoint.Weight == endpoints[0].Weight;
    }

    public EndpointState? Pick(in PickContext context)
    {
        if (context.AvailableCount == 1)
            return context.NthAvailable(_endpoints, 0);

        EndpointState? best = null;
        var bestScore = double.MaxValue;
        for (var i = 0; i < _choiceCount; i++)
        {
            var candidate = context.RandomAvailable(_endpoints);
            if (candidate is null)
                continue;
            var score = _equalWeights
                ? candidate.Outstanding
                : (candidate.Outstanding + 1) / (double)candidate.Weight;
            if (best is null || score < bestScore)
            {
                best = candidate;
                bestScore = score;
            }
        }
        return best;
    }
}
