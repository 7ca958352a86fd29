using Weft.Proxy.Listeners;
using Weft.Proxy.Metrics;
using Weft.Proxy.Transport;

namespace Weft.Proxy.Forwarding;

/// <summary>
/// Authorization of inbound calls by intentions, before anything reaches the app: the caller is the service named by
/// its mTLS client certificate (unknown without one, which only <c>*</c> intentions match). Other listeners pass through.
/// </summary>
internal sealed class IntentionLayer(ProxyLayer next, ProxyMetrics metrics) : ProxyLayer
{
    public override ValueTask InvokeAsync(ProxyCall call)
    {
        if (call.Listener.Kind != ListenerKind.Inbound)
            return next.InvokeAsync(call);
        var intentions = call.Table.Intentions;
        var source = PeerIdentity.Of(call.Http)?.Service;
        if (intentions.Deny(source, call.Http.Request) is not { } why)
            return next.InvokeAsync(call);

        metrics.IntentionDenied();
        call.Fail(ProxyErrorKind.IntentionDenied, $"intention-denied: {source ?? "(unknown caller)"} -> {intentions.Destination}: {why}");
        return ValueTask.CompletedTask;
    }
}
