using Weft.Proxy.Listeners;
using Weft.Proxy.Routing;

namespace Weft.Proxy.Forwarding;

/// <summary>Finds the upstream (the listener's, or the Host's) and its first matching route.</summary>
internal sealed class RouteLayer(ProxyLayer next) : ProxyLayer
{
    public override ValueTask InvokeAsync(ProxyCall call)
    {
        var table = call.Table;
        UpstreamRoutes? upstream;
        switch (call.Listener.Kind)
        {
            case ListenerKind.Inbound:
                upstream = table.Inbound;
                break;
            case ListenerKind.Upstream:
                table.TryGetUpstream(call.Listener.Name, out upstream);
                break;
            default:
                var host = call.Http.Request.Host.Value.AsSpan();
                var colon = host.LastIndexOf(':');
                if (colon >= 0 && host.IndexOf(']') < colon)
                    host = host[..colon];
                if (!table.TryGetUpstream(host, out upstream))
                {
                    call.Fail(ProxyErrorKind.UnknownUpstream, host.IsEmpty
                        ? "no Host header: on the outbound listener the Host names the upstream service"
                        : $"no service named \"{host}\" in the mesh config (version {table.Version}); the Host header names the upstream service");
                    return ValueTask.CompletedTask;
                }

                break;
        }

        if (upstream is null)
        {
            call.Fail(ProxyErrorKind.NoRoute, $"upstream \"{call.Listener.Name}\" is not in the mesh config (version {table.Version})");
            return ValueTask.CompletedTask;
        }

        call.Upstream = upstream;
        if (upstream.IsTcp)
        {
            call.Fail(ProxyErrorKind.NoRoute, $"service \"{upstream.Service}\" speaks tcp (service-defaults Protocol); send raw TCP to its upstream listener, not HTTP");
            return ValueTask.CompletedTask;
        }

        var request = call.Http.Request;
        foreach (var route in upstream.Routes)
        {
            if (route.Match.Matches(request))
            {
                call.Route = route;
                return next.InvokeAsync(call);
            }
        }

        call.Fail(ProxyErrorKind.NoRoute, $"no route of service \"{upstream.Service}\" matches {request.Method} {request.Path}");
        return ValueTask.CompletedTask;
    }
}
