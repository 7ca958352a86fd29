using System.Runtime.CompilerServices;

namespace Weft.Proxy.Forwarding;

/// <summary>The circuit breaker: beyond the cluster's limits, fail fast with 503 overflow rather than queue.</summary>
internal sealed class LimitLayer(ProxyLayer next) : ProxyLayer
{
    [AsyncMethodBuilder(typeof(Net.LocalPoolBuilder))]
    public override async ValueTask InvokeAsync(ProxyCall call)
    {
        var binding = call.Target!.Binding;
        var limiter = binding.Limiter;
        if (!limiter.TryEnter())
        {
            call.Route!.Stats.Overflow();
            call.Fail(ProxyErrorKind.Overflow, ProxyMessages.Overflow(binding));
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
