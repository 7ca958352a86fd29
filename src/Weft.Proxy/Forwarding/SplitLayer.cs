namespace Weft.Proxy.Forwarding;

/// <summary>Picks the destination (service, subset) of this request by the route's split weights.</summary>
internal sealed class SplitLayer(ProxyLayer next) : ProxyLayer
{
    public override ValueTask InvokeAsync(ProxyCall call)
    {
        call.Target = call.Route!.Action.Pick();
        return next.InvokeAsync(call);
    }
}
