using System.Net;

namespace Weft.Core.Text;

/// <summary>Parses the <c>HOST:PORT</c> addresses Weft listens on (<c>127.0.0.1:8500</c>, <c>[::1]:8500</c>, <c>localhost:0</c>).</summary>
public static class ListenAddress
{
    public static bool TryParse(string? text, out IPEndPoint endpoint, out string error)
    {
        endpoint = new IPEndPoint(IPAddress.Loopback, 0);
        error = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "empty address; use HOST:PORT such as 127.0.0.1:8500";
            return false;
        }

        var s = text.Trim();
        if (s.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase))
            s = "127.0.0.1" + s["localhost".Length..];
        if (!IPEndPoint.TryParse(s, out var parsed) || !s.Contains(':') || s.EndsWith(':') || parsed.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !s.StartsWith('['))
        {
            error = $"\"{text}\" is not HOST:PORT with an IP address or localhost (e.g. 127.0.0.1:8500, [::1]:8500, 0.0.0.0:8500)";
            return false;
        }

        endpoint = parsed;
        return true;
    }
}
