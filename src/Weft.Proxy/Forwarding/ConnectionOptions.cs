using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http;

namespace Weft.Proxy.Forwarding;

/// <summary>
/// Headers a message's <c>Connection</c> header names are hop-by-hop (RFC 9110 7.6.1): a proxy removes them before
/// forwarding. YARP removes only the fixed list (Connection, Keep-Alive, TE, Upgrade, ...), so the layered path removes
/// the ones the caller named from the request and the ones the upstream named from the response here; the fast path
/// does both while copying the heads (<c>FastPath/Http1Heads.cs</c>). The same code runs on both hops (outbound and
/// inbound listeners share the pipeline); between sidecars HTTP/2 carries no <c>Connection</c> at all.
/// </summary>
internal static class ConnectionOptions
{
    /// <summary>
    /// Removes from the upstream request the headers the caller's <c>Connection</c> names. Content headers
    /// (Content-Length, Content-Type, ...) and Host stay: Kestrel framed the body and the layered path sets Host itself,
    /// so dropping them would only break the message. Known gap: when the value also holds exactly one of
    /// <c>keep-alive</c>, <c>close</c> or <c>upgrade</c>, Kestrel (<c>HttpHeaders.ParseConnection</c>) replaces it by
    /// that word alone before any middleware runs, so those names are not seen here (the fast path reads the raw head
    /// and removes them for the requests it takes).
    /// </summary>
    public static void Remove(IHeaderDictionary request, HttpRequestHeaders upstream)
    {
        foreach (var value in request.Connection)
        {
            foreach (var name in Names(value))
            {
                // NonValidated.Contains is false for content headers and for names that are not header names, where
                // Remove would throw.
                if (upstream.NonValidated.Contains(name) && !name.Equals("Host", StringComparison.OrdinalIgnoreCase))
                    upstream.Remove(name);
            }
        }
    }

    /// <summary>Removes from the client's response the headers the upstream's <c>Connection</c> names.</summary>
    public static void Remove(HttpResponseHeaders upstream, IHeaderDictionary response)
    {
        if (!upstream.NonValidated.TryGetValues("Connection", out var values))
            return;
        foreach (var value in values)
        {
            foreach (var name in Names(value))
                response.Remove(name);
        }
    }

    /// <summary>The connection options of one <c>Connection</c> value, other than the ones with a meaning of their own.</summary>
    private static IEnumerable<string> Names(string? value)
    {
        if (string.IsNullOrEmpty(value))
            yield break;
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!part.Equals("close", StringComparison.OrdinalIgnoreCase) && !part.Equals("keep-alive", StringComparison.OrdinalIgnoreCase)
                && !part.Equals("upgrade", StringComparison.OrdinalIgnoreCase))
                yield return part;
        }
    }
}
