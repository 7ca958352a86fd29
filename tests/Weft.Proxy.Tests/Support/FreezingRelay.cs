using System.Net;
using System.Net.Sockets;

namespace Weft.Proxy.Tests.Support;

/// <summary>
/// A TCP relay on loopback in front of <paramref name="target"/> that can make the connections it carries go silent
/// without closing them — what a vanished host or a partition looks like to the client: bytes sent are accepted by the
/// relay's socket, nothing comes back, no FIN, no RST. Connections accepted after <see cref="FreezeOpenConnections"/>
/// are relayed as before.
/// </summary>
internal sealed class FreezingRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Link> _links = [];
    private readonly Task _accepting;
    private int _accepted;

    private FreezingRelay(IPEndPoint target)
    {
        _target = target;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public static FreezingRelay Start(IPEndPoint target) => new(target);

    public IPEndPoint Address => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Every connection open now stops relaying either way (its sockets stay open); later ones are relayed.</summary>
    public void FreezeOpenConnections()
    {
        lock (_links)
        {
            foreach (var link in _links)
                link.Frozen.TrySetResult();
        }
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptSocketAsync(_stop.Token);
                Interlocked.Increment(ref _accepted);
                var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await server.ConnectAsync(_target, _stop.Token);
                var link = new Link(client, server);
                lock (_links)
                    _links.Add(link);
                _ = PumpAsync(client, server, link);
                _ = PumpAsync(server, client, link);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private static async Task PumpAsync(Socket from, Socket to, Link link)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer);
                if (link.Frozen.Task.IsCompleted)
                {
                    // Frozen: what arrived is dropped, and nothing more is read until the relay stops.
                    await link.Closed.Task;
                    return;
                }

                if (n == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }

                await to.SendAsync(buffer.AsMemory(0, n));
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // One side closed.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        lock (_links)
        {
            foreach (var link in _links)
                link.Close();
        }

        _stop.Dispose();
    }

    private sealed class Link(Socket client, Socket server)
    {
        public TaskCompletionSource Frozen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Close()
        {
            Closed.TrySetResult();
            client.Dispose();
            server.Dispose();
        }
    }
}
