using System.Runtime.CompilerServices;

namespace Weft.Proxy.Forwarding;

/// <summary>Picks an endpoint for one attempt (another than those already tried, when there is one) and reports how it went.</summary>
internal sealed class BalanceLayer(ProxyLayer next) : ProxyLayer
{
    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder))]
    public override async ValueTask InvokeAsync(ProxyCall call)
    {
        var binding = call.Target!.Binding;
        var endpoint = binding.Cluster.Pick(call.Http, call.Tried);
        if (endpoint is null)
        {
            call.Fail(ProxyErrorKind.NoHealthyEndpoint, ProxyMessages.NoHealthyEndpoint(binding, call.Table.Version));
            return;
        }

        call.Endpoint = endpoint;
        var started = call.Time.GetTimestamp();
        try
        {
            await next.InvokeAsync(call);
        }
        catch
        {
            call.Outcome = LoadBalancing.AttemptOutcome.Reset;
            throw;
        }
        finally
        {
            // Latency to the response headers when there were some: a streamed body says nothing about the endpoint.
            var end = call.HeadersAt != 0 ? call.HeadersAt : call.Time.GetTimestamp();
            binding.Cluster.Report(endpoint, call.Outcome, call.Time.GetElapsedTime(started, end));
        }
    }
}
