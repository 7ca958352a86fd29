namespace Weft.Proxy.Forwarding;

/// <summary>
/// The circuit breaker: beyond the cluster's limits, fail fast with 503 overflow rather than queue. The request leaves
/// the limit when it has gone through the layers (<see cref="ProxyCall.EndRequest"/>), so this layer awaits nothing.
/// </summary>
internal sealed class LimitLayer(ProxyLayer next) : ProxyLayer
{
    private static readonly Action<ProxyCall> s_exit = static call => call.Target!.Binding.Limiter.Exit();

    public override ValueTask InvokeAsync(ProxyCall call)
    {
        var binding = call.Target!.Binding;
        if (!binding.Limiter.TryEnter())
        {
            call.Route!.Stats.Overflow();
            call.Fail(ProxyErrorKind.Overflow, ProxyMessages.Overflow(binding));
            return ValueTask.CompletedTask;
        }

        call.OnRequestEnd(s_exit);
        return next.InvokeAsync(call);
    }
}
