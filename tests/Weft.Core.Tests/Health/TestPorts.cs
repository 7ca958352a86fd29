using System.Net;
using System.Net.Sockets;

namespace Weft.Core.Tests.Health;

internal static class TestPorts
{
    /// <summary>A loopback port that was just bound and released, so nothing listens on it.</summary>
    public static int Closed()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
