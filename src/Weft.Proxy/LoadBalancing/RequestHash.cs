using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Http;
using Weft.Core.Config;

namespace Weft.Proxy.LoadBalancing;

/// <summary>
/// A request's hash from <see cref="ClusterSettings.HashPolicies"/>, as Envoy's <c>hash_policy</c>: each policy
/// that finds its value (header, cookie, query parameter, source IP) mixes its hash into the running one (rotated
/// left by one first, so two equal rules do not cancel); a <see cref="HashPolicy.Terminal"/> policy stops the
/// list once there is a hash. No value at all → null, and the policy picks at random.
/// </summary>
internal static class RequestHash
{
    public const string Header = "header";
    public const string Cookie = "cookie";
    public const string QueryParameter = "query_parameter";

    private static readonly object GeneratedCookiesKey = new();

    public static ulong? Compute(ImmutableArray<HashPolicy> policies, HttpContext? request)
    {
        if (request is null || policies.IsDefaultOrEmpty)
            return null;

        ulong? hash = null;
        foreach (var policy in policies)
        {
            var next = Evaluate(policy, request);
            if (next is { } value)
                hash = hash is { } h ? ((h << 1) | (h >> 63)) ^ value : value;
            if (policy.Terminal && hash is not null)
                break;
        }
        return hash;
    }

    private static ulong? Evaluate(HashPolicy policy, HttpContext request)
    {
        if (policy.SourceIP)
            return SourceIp(request.Connection.RemoteIpAddress);
        if (string.IsNullOrEmpty(policy.FieldValue))
            return null;

        switch (policy.Field)
        {
            case Header:
                var header = request.Request.Headers[policy.FieldValue];
                return header.Count == 0 ? null : StableHash.Of(header.ToString());
            case QueryParameter:
                var query = request.Request.Query[policy.FieldValue];
                return query.Count == 0 ? null : StableHash.Of(query.ToString());
            case Cookie:
                var cookie = request.Request.Cookies[policy.FieldValue];
                if (!string.IsNullOrEmpty(cookie))
                    return StableHash.Of(cookie);
                return GenerateCookie(policy, request);
            default:
                return null;
        }
    }

    private static ulong? SourceIp(IPAddress? address)
    {
        if (address is null)
            return null;
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        Span<byte> bytes = stackalloc byte[16];
        return address.TryWriteBytes(bytes, out var written) ? StableHash.Of(bytes[..written]) : null;
    }

    /// <summary>
    /// Consul's <c>CookieConfig</c> (Envoy's cookie <c>ttl</c>): when the cookie is missing and a session or TTL
    /// cookie is configured, make one from the connection's addresses (as Envoy does), hash it, and set it on the
    /// response so the client's next requests stick. Once per request, however many attempts pick.
    /// </summary>
    private static ulong? GenerateCookie(HashPolicy policy, HttpContext request)
    {
        var config = policy.CookieConfig;
        if (config is null || (!config.Session && config.TTL is not { Ticks: > 0 }))
            return null;

        var name = policy.FieldValue!;
        var generated = request.Items.TryGetValue(GeneratedCookiesKey, out var existing)
            ? (Dictionary<string, string>)existing!
            : (Dictionary<string, string>)(request.Items[GeneratedCookiesKey] = new Dictionary<string, string>(StringComparer.Ordinal));
        if (!generated.TryGetValue(name, out var value))
        {
            var connection = request.Connection;
            var seed = $"{connection.RemoteIpAddress}:{connection.RemotePort}{connection.LocalIpAddress}:{connection.LocalPort}";
            value = StableHash.Of(seed).ToString("x16", CultureInfo.InvariantCulture);
            generated[name] = value;
            if (!request.Response.HasStarted)
            {
                request.Response.Cookies.Append(name, value, new CookieOptions
                {
                    Path = string.IsNullOrEmpty(config.Path) ? null : config.Path,
                    MaxAge = config.Session ? null : config.TTL,
                    HttpOnly = true,
                });
            }
        }
        return StableHash.Of(value);
    }
}
