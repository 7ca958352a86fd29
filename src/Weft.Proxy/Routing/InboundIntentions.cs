using Microsoft.AspNetCore.Http;
using Weft.Core.Config;
using Weft.Core.Mesh;

namespace Weft.Proxy.Routing;

/// <summary>
/// Who may call this sidecar's service, compiled from one snapshot: the intentions naming it (or <c>*</c>) resolved by
/// Consul's precedence, their L7 permissions compiled to matchers. The request path does one lookup and, for an L7
/// intention, walks its permissions; nothing is parsed per request.
/// </summary>
internal sealed class InboundIntentions
{
    private readonly IntentionLookup<CompiledIntention> _lookup;

    private InboundIntentions(string destination, bool defaultAllow, IntentionLookup<CompiledIntention> lookup)
    {
        Destination = destination;
        DefaultAllow = defaultAllow;
        _lookup = lookup;
    }

    /// <summary>This sidecar's service: the destination of every inbound call.</summary>
    public string Destination { get; }

    /// <summary>The decision when no intention matches a call (the control plane's <c>--default-allow</c>).</summary>
    public bool DefaultAllow { get; }

    /// <exception cref="ConfigRejectedException">A permission's regex does not compile.</exception>
    public static InboundIntentions Compile(MeshSnapshot snapshot, string service)
    {
        var exact = snapshot.Entry<ServiceIntentionsEntry>(ConfigKinds.ServiceIntentions, service);
        var wildcard = snapshot.Entry<ServiceIntentionsEntry>(ConfigKinds.ServiceIntentions, IntentionPrecedence.Wildcard);
        var lookup = IntentionLookup<CompiledIntention>.Build(exact, wildcard, source => CompiledIntention.Compile(source, service));
        return new InboundIntentions(service, snapshot.IntentionsDefaultAllow, lookup);
    }

    /// <summary>The L7 decision for one request from <paramref name="source"/> (null: a caller of unknown identity).</summary>
    /// <returns>Null when allowed; otherwise why not, for the 403's body.</returns>
    public string? Deny(string? source, HttpRequest request)
    {
        var intention = _lookup.Match(source);
        if (intention is null)
            return DefaultAllow ? null : "no intention matches and the default is deny";
        if (intention.Permissions.Length == 0)
            return intention.Allow ? null : $"intention {intention.Name} denies it";
        for (var i = 0; i < intention.Permissions.Length; i++)
        {
            var permission = intention.Permissions[i];
            if (permission.Match.Matches(request))
                return permission.Allow ? null : $"intention {intention.Name} Permissions[{i}] denies {request.Method} {request.Path}";
        }

        // As Consul: a request no permission matches gets the default intention behaviour, not a lower-precedence intention.
        return DefaultAllow ? null : $"no permission of intention {intention.Name} matches {request.Method} {request.Path} and the default is deny";
    }

    /// <summary>The L4 decision for a raw TCP connection: an L7 intention counts as deny, as Consul's L4 view.</summary>
    public bool AllowsConnection(string? source)
    {
        var intention = _lookup.Match(source);
        return intention is null ? DefaultAllow : intention.Permissions.Length == 0 && intention.Allow;
    }

    private sealed record CompiledPermission(bool Allow, RouteMatch Match);

    private sealed record CompiledIntention(string Name, bool Allow, CompiledPermission[] Permissions)
    {
        public static CompiledIntention Compile(SourceIntention source, string destination)
        {
            var name = $"{source.Name} -> {destination}";
            var permissions = new CompiledPermission[source.Permissions?.Count ?? 0];
            for (var i = 0; i < permissions.Length; i++)
            {
                var p = source.Permissions![i];
                var http = p.Http is null ? null : new ServiceRouteHttpMatch
                {
                    PathExact = p.Http.PathExact,
                    PathPrefix = p.Http.PathPrefix,
                    PathRegex = p.Http.PathRegex,
                    Methods = p.Http.Methods,
                    Header = p.Http.Header,
                };
                permissions[i] = new CompiledPermission(p.Action == IntentionActions.Allow, RouteMatch.Compile(http, $"service-intentions \"{destination}\" source \"{source.Name}\" Permissions[{i}]"));
            }

            return new CompiledIntention(name, source.Action == IntentionActions.Allow, permissions);
        }
    }
}
