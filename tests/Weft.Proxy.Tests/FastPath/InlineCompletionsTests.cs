using System.Net;
using System.Net.Sockets;
using Weft.Proxy.FastPath;

namespace Weft.Proxy.Tests.FastPath;

public sealed class InlineCompletionsTests
{
    /// <summary>
    /// The fast path's CPU per request depends on this internal runtime switch; a runtime that drops it must be noticed
    /// here rather than as a slower benchmark.
    /// </summary>
    [Fact]
    public async Task ThisRuntime_LetsTheFastPathRunASocketsCompletionsInline_AndTheSocketStillWorks()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        Assert.True(InlineCompletions.Available);
        Assert.True(InlineCompletions.Set(client, true));
        await client.ConnectAsync(listener.LocalEndpoint);
        using var server = await listener.AcceptSocketAsync();
        var receive = client.ReceiveAsync(new byte[8].AsMemory(), SocketFlags.None).AsTask();
        await server.SendAsync("pong"u8.ToArray(), SocketFlags.None);

        Assert.Equal(4, await receive.WaitAsync(TimeSpan.FromSeconds(10)));
    }
}
