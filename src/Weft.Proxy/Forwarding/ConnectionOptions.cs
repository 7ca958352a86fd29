using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http;

namespace Weft.Proxy.Forwarding;

/// <summary>
/// Headers a message's <c>Connection</c> header names are hop-by-hop (RFC 9110 7.6.1): a proxy removes them before
/// forwarding. YARP removes only the fixed list (Connection, Keep-Alive, TE, Upgrade, ...) from a response, so the
/// layered path removes the ones the upstream named here; the fast path does it while copying the head
/// (<c>FastPath/Http1Heads.cs</c>). A request's are not removed: Kestrel keeps only <c>keep-alive</c>/<c>close</c> of
/// the request's <c>Connection</c> value, so the names are gone before the layered path could read them.
/// </summary>
internal static class ConnectionOptions
{
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
