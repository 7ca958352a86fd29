namespace Weft.Proxy.Forwarding;

/// <summary>One layer of the request path: knows only its own settings, and calls the next layer (or answers itself).</summary>
internal abstract class ProxyLayer
{
    public abstract ValueTask InvokeAsync(ProxyCall call);
}
