using System.Net;
using System.Net.Sockets;
using Weft.Proxy.Hosting;

namespace Weft.Proxy.Tests.Support;

/// <summary>An app speaking h2c to its sidecar: what the outbound-listener tests of both HTTP/2 servers share.</summary>
internal static class AppH2c
{
    /// <summary>A handler whose every connection goes to <paramref name="address"/> (the sidecar's listener), whatever host a request names.</summary>
    public static SocketsHttpHandler HandlerTo(IPEndPoint address) => new()
    {
        UseProxy = false,
        ConnectCallback = async (_, cancel) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(address, cancel);
            return new NetworkStream(socket, ownsSocket: true);
        },
    };

    /// <summary>The app's h2c connection was served by the server the test is about, so a change of routing fails the test.</summary>
    public static void AssertServedBy(ProxyHost proxy, bool ownServer)
    {
        if (ownServer)
            Assert.True(proxy.Metrics.OwnH2!.AppServed >= 1, "the app's h2c connection was not served by weft's own server");
        else
            Assert.Null(proxy.Metrics.OwnH2);
    }
}
