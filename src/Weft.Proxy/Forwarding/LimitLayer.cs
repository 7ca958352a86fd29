namespace Weft.Proxy.Forwarding;

/// <summary>The circuit breaker: beyond the cluster's limits, fail fast with 503 overflow rather than queue.</summary>
internal sealed class LimitLayer(ProxyLayer next) : ProxyLayer
{
    public override async ValueTask InvokeAsync(ProxyCall call)
    {
        var binding = call.Target!.Binding;
        var limiter = binding.Limiter;
        if (!limiter.TryEnter())
        {
            call.Route!.Stats.Overflow();
            call.Fail(ProxyErrorKind.Overflow, $"circuit breaker open for \"{binding.Name}\": {limiter.Limit} requests already in flight (service-defaults UpstreamConfig Limits)");
            return;
        }

        try
        {
            await next.InvokeAsync(call);
        }
        finally
        {
            limiter.Exit();
        }
    }
}
