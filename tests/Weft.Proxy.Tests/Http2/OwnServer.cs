using Microsoft.AspNetCore.Http;
using Weft.Proxy.Http2;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// <see cref="Http2ServerConnection"/> alone on a loopback port (Kestrel only accepts: its connection middleware hands
/// every connection to ours), running the handler a test gives it on every stream.
/// </summary>
internal static class OwnServer
{
    public static Task<Backend> StartAsync(RequestDelegate handler, TimeProvider? time = null) => Backend.StartAsync(_ => { },
        listen: l => l.Use(_ => connection => new Http2ServerConnection(connection, handler, time ?? TimeProvider.System).ServeAsync()));
}
