using System.Globalization;

namespace Weft.Core.Health;

/// <summary>Splits Consul's <c>host:port</c> targets, including bracketed IPv6 (<c>[::1]:80</c>).</summary>
internal static class HostPort
{
    public static bool TryParse(string target, out string host, out int port)
    {
        host = "";
        port = 0;
        var colon = target.LastIndexOf(':');
        if (colon <= 0 || colon == target.Length - 1)
            return false;
        if (!int.TryParse(target.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535)
            return false;
        var hostPart = target[..colon];
        if (hostPart.StartsWith('[') && hostPart.EndsWith(']'))
            hostPart = hostPart[1..^1];
        else if (hostPart.Contains(':'))
            return false; // An unbracketed IPv6 address is ambiguous; Go's net.SplitHostPort rejects it too.
        host = hostPart;
        return host.Length > 0;
    }
}
