using System.Net;
using System.Net.Sockets;
using Weft.Proxy.Net;
using Weft.Tests.Shared;

namespace Weft.Proxy.Tests.Net;

public sealed class EpollSocketTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    /// <summary>
    /// A connected pair on loopback: the engine's socket (the client; on <paramref name="engine"/> when given, else on the
    /// shared engines) and a plain .NET socket (the accepted side).
    /// </summary>
    internal static async Task<(EpollSocket Client, Socket Server)> PairAsync(EpollEngine? engine = null)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(16);
        var client = EpollSocket.Create(AddressFamily.InterNetwork, engine);
        var accept = listener.AcceptAsync();
        await client.ConnectAsync(listener.LocalEndPoint!).AsTask().WaitAsync(Limit);
        return (client, await accept.WaitAsync(Limit));
    }

    /// <summary>Both sides on the engine.</summary>
    internal static async Task<(EpollSocket Client, EpollSocket Server)> EnginePairAsync()
    {
        var (client, server) = await PairAsync();
        return (client, new EpollSocket(server));
    }

    /// <summary>
    /// Sends until a send parks (the peer reads nothing, so the socket buffers fill) and returns that send, once the
    /// kernel has had every byte it sent acknowledged: until then an acknowledgement still on its way frees buffer space
    /// and completes the parked send by itself, which happened once in about 20 full runs on a loaded machine.
    /// </summary>
    private static async Task<Task<int>> ParkedSend(EpollSocket client)
    {
        var chunk = new byte[1 << 16];
        while (true)
        {
            Task<int>? parked = null;
            for (var i = 0; i < 4096 && parked is null; i++)
            {
                var pending = client.SendAsync(chunk);
                if (!pending.IsCompleted)
                    parked = pending.AsTask();
            }

            if (parked is null)
                throw new Xunit.Sdk.XunitException("no send parked after 256 MiB");
            // Queued = sent but unacknowledged + not yet sent; once only the unsent remain, nothing frees space.
            await Poll.UntilAsync(() => parked.IsCompleted || Queued(client, SIOCOUTQ) == Queued(client, SIOCOUTQNSD),
                "the kernel had the sent bytes acknowledged", Limit);

            if (!parked.IsCompleted)
                return parked;
            await parked; // completed by a late acknowledgement: fill the buffers again
        }
    }

    private const uint SIOCOUTQ = 0x5411;
    private const uint SIOCOUTQNSD = 0x894B;

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int ioctl(int fd, uint request, out int value);

    private static int Queued(EpollSocket socket, uint request)
    {
        Assert.Equal(0, ioctl((int)socket.Socket.SafeHandle.DangerousGetHandle(), request, out var value));
        return value;
    }

    private static async Task<byte[]> ReceiveExactlyAsync(EpollSocket socket, int count, int chunk = 65536)
    {
        var data = new byte[count];
        var got = 0;
        while (got < count)
        {
            var n = await socket.ReceiveAsync(data.AsMemory(got, Math.Min(chunk, count - got)));
            Assert.True(n > 0, $"closed after {got} of {count} bytes");
            got += n;
        }

        return data;
    }

    [Fact]
    public async Task Echoes_round_trips_through_both_sides()
    {
        var (client, server) = await EnginePairAsync();
        using (client)
        using (server)
        {
            var echo = Task.Run(async () =>
            {
                var buffer = new byte[4096];
                while (await server.ReceiveAsync(buffer) is var n && n > 0)
                    await server.SendAllAsync(buffer.AsMemory(0, n));
                server.Shutdown(SocketShutdown.Send);
            });

            for (var i = 1; i <= 50; i++)
            {
                var message = new byte[i * 37];
                Random.Shared.NextBytes(message);
                await client.SendAllAsync(message);
                Assert.Equal(message, await ReceiveExactlyAsync(client, message.Length).WaitAsync(Limit));
            }

            client.Shutdown(SocketShutdown.Send);
            await echo.WaitAsync(Limit);
            Assert.Equal(0, await client.ReceiveAsync(new byte[16]).AsTask().WaitAsync(Limit));
        }
    }

    [Fact]
    public async Task Moves_8_MiB_each_way_while_one_side_reads_only_after_it_sent_everything()
    {
        const int Size = 8 << 20;
        var (a, b) = await EnginePairAsync();
        using (a)
        using (b)
        {
            var fromA = Pattern(Size, 3);
            var fromB = Pattern(Size, 7);
            // b sends all of its 8 MiB before reading a byte: a's sends outgrow the socket buffers and must wait for
            // writable edges (backpressure), while a reads b's data concurrently in small pieces.
            var aSend = a.SendAllAsync(fromA).AsTask();
            var aReceive = ReceiveExactlyAsync(a, Size, chunk: 1024);
            var bSide = Task.Run(async () =>
            {
                await b.SendAllAsync(fromB);
                return await ReceiveExactlyAsync(b, Size, chunk: 1500);
            });

            Assert.False(aSend.IsCompleted, "8 MiB fit in the socket buffers: the test would not exercise backpressure");
            Assert.Equal(fromB, await aReceive.WaitAsync(Limit));
            Assert.Equal(fromA, await bSide.WaitAsync(Limit));
            await aSend.WaitAsync(Limit);
        }
    }

    private static byte[] Pattern(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Fact]
    public async Task A_parked_receive_returns_0_at_the_peers_FIN()
    {
        var (client, server) = await PairAsync();
        using (client)
        using (server)
        {
            var receive = client.ReceiveAsync(new byte[64]).AsTask();
            Assert.False(receive.IsCompleted);
            server.Shutdown(SocketShutdown.Send);
            Assert.Equal(0, await receive.WaitAsync(Limit));
            // And again at once: the FIN stays.
            Assert.Equal(0, await client.ReceiveAsync(new byte[64]).AsTask().WaitAsync(Limit));
        }
    }

    [Fact]
    public async Task Data_and_the_FIN_in_one_edge_read_as_the_data_then_0()
    {
        var (client, server) = await PairAsync();
        using (client)
        using (server)
        {
            // Both arrive before the client reads: epoll reports them once (IN and RDHUP together), and the short
            // read that takes the data must not leave the next receive waiting for an edge that never comes.
            await server.SendAsync("last words"u8.ToArray());
            server.Shutdown(SocketShutdown.Send);
            var buffer = new byte[64];
            var got = 0;
            int n;
            while ((n = await client.ReceiveAsync(buffer.AsMemory(got)).AsTask().WaitAsync(Limit)) > 0)
                got += n;
            Assert.Equal("last words", System.Text.Encoding.ASCII.GetString(buffer, 0, got));
        }
    }

    [Fact]
    public async Task A_peers_reset_fails_the_receive_with_ConnectionReset()
    {
        var (client, server) = await PairAsync();
        using (client)
        {
            var receive = client.ReceiveAsync(new byte[64]).AsTask();
            server.LingerState = new LingerOption(true, 0);
            server.Dispose();
            var e = await Assert.ThrowsAsync<SocketException>(() => receive.WaitAsync(Limit));
            Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
        }
    }

    [Fact]
    public async Task Connecting_to_a_closed_port_fails_with_ConnectionRefused()
    {
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        using var client = EpollSocket.Create(AddressFamily.InterNetwork);
        var e = await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).AsTask().WaitAsync(Limit));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
    }

    [Fact]
    public async Task Cancelling_a_parked_receive_throws_and_the_socket_still_works()
    {
        var (client, server) = await PairAsync();
        using (client)
        using (server)
        {
            using var cts = new CancellationTokenSource();
            var receive = client.ReceiveAsync(new byte[64], cts.Token).AsTask();
            Assert.False(receive.IsCompleted);
            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => receive.WaitAsync(Limit));

            await server.SendAsync("ping"u8.ToArray());
            var buffer = new byte[64];
            var n = await client.ReceiveAsync(buffer).AsTask().WaitAsync(Limit);
            Assert.Equal("ping", System.Text.Encoding.ASCII.GetString(buffer, 0, n));
        }
    }

    [Fact]
    public async Task Dispose_completes_a_parked_receive_and_send_with_OperationAborted_and_closes_the_connection_once()
    {
        var (client, server) = await PairAsync();
        using (server)
        {
            var send = await ParkedSend(client);
            var receive = client.ReceiveAsync(new byte[64]).AsTask();
            Assert.False(receive.IsCompleted);

            client.Dispose();
            client.Dispose();
            Assert.Equal(SocketError.OperationAborted, (await Assert.ThrowsAsync<SocketException>(() => receive.WaitAsync(Limit))).SocketErrorCode);
            Assert.Equal(SocketError.OperationAborted, (await Assert.ThrowsAsync<SocketException>(() => send.WaitAsync(Limit))).SocketErrorCode);
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await client.ReceiveAsync(new byte[1]));

            // The peer sees the connection end (after the bytes that made it).
            var buffer = new byte[1 << 16];
            while (await server.ReceiveAsync(buffer).WaitAsync(Limit) > 0)
            {
            }
        }
    }

    [Fact]
    public async Task Dispose_from_inside_a_completion_on_the_engine_thread_ends_the_parked_send()
    {
        var (client, server) = await PairAsync();
        using (server)
        {
            var send = await ParkedSend(client);
            var disposedOn = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
            var receive = ReceiveThenDispose();
            await server.SendAsync("x"u8.ToArray());
            Assert.Equal("weft-epoll-0", await disposedOn.Task.WaitAsync(Limit));
            Assert.Equal(SocketError.OperationAborted, (await Assert.ThrowsAsync<SocketException>(() => send.WaitAsync(Limit))).SocketErrorCode);
            await receive.WaitAsync(Limit);

            async Task ReceiveThenDispose()
            {
                // (ConfigureAwait: not the test framework's synchronization context, which would take the continuation.)
                await client.ReceiveAsync(new byte[8]).ConfigureAwait(false);
                client.Dispose();
                disposedOn.SetResult(Thread.CurrentThread.Name);
            }
        }
    }

    [Fact]
    public async Task AllocatedBytes_counts_what_a_completion_allocates_on_the_engine_thread()
    {
        var (client, server) = await PairAsync();
        using (client)
        using (server)
        {
            var before = await FastPath.EngineAllocations.ReadAsync();
            var receive = ReceiveThenAllocate();
            await server.SendAsync("x"u8.ToArray());
            var (thread, kept) = await receive.WaitAsync(Limit);
            var after = await FastPath.EngineAllocations.ReadAsync();

            Assert.Equal("weft-epoll-0", thread);
            // At least that array (other tests' connections share the engine, so more may come with it).
            Assert.True(after - before >= kept.Length, $"engine thread allocated {after - before} bytes, the completion {kept.Length}");

            async Task<(string?, byte[])> ReceiveThenAllocate()
            {
                await client.ReceiveAsync(new byte[8]).ConfigureAwait(false);
                return (Thread.CurrentThread.Name, new byte[200_000]);
            }
        }
    }

    [Fact]
    public async Task Completions_go_to_the_thread_pool_when_inline_completions_are_off()
    {
        var (client, server) = await PairAsync();
        using (client)
        using (server)
        {
            client.InlineCompletions = false;
            var receive = Receive();
            await server.SendAsync("x"u8.ToArray());
            var (n, thread, pool) = await receive.WaitAsync(Limit);
            Assert.Equal(1, n);
            Assert.NotEqual("weft-epoll-0", thread);
            Assert.True(pool);

            async Task<(int, string?, bool)> Receive()
            {
                var got = await client.ReceiveAsync(new byte[8]).ConfigureAwait(false);
                return (got, Thread.CurrentThread.Name, Thread.CurrentThread.IsThreadPoolThread);
            }
        }
    }

    [Fact]
    public async Task A_socket_given_its_own_engine_completes_on_that_engines_thread()
    {
        using var engine = new EpollEngine("weft-epoll-test");
        var pair = await PairAsync(engine);
        using var client = pair.Client;
        using var server = pair.Server;

        var receive = Receive();
        await server.SendAsync("x"u8.ToArray());
        Assert.Equal("weft-epoll-test", await receive.WaitAsync(Limit));

        async Task<string?> Receive()
        {
            await client.ReceiveAsync(new byte[8]).ConfigureAwait(false);
            return Thread.CurrentThread.Name;
        }
    }

    [Fact]
    public async Task Sixty_four_connections_make_1000_round_trips_each_from_several_threads()
    {
        const int Connections = 64, Trips = 1000;
        var pairs = new (EpollSocket Client, EpollSocket Server)[Connections];
        for (var i = 0; i < Connections; i++)
            pairs[i] = await EnginePairAsync();
        try
        {
            // The servers echo on the engine thread (inline), the clients run on the thread pool: receives park and
            // edges arrive on both sides all the time, which is where a lost wake-up would hang a connection.
            var servers = pairs.Select(p => EchoAsync(p.Server)).ToArray();
            var clients = pairs.Select((p, i) => Task.Run(async () =>
            {
                p.Client.InlineCompletions = i % 2 == 0;
                var buffer = new byte[512];
                var message = new byte[512];
                for (var trip = 0; trip < Trips; trip++)
                {
                    var size = 1 + (trip * 31 + i) % message.Length;
                    message[0] = (byte)trip;
                    await p.Client.SendAllAsync(message.AsMemory(0, size));
                    var got = 0;
                    while (got < size)
                    {
                        var n = await p.Client.ReceiveAsync(buffer.AsMemory(got, size - got));
                        Assert.True(n > 0);
                        got += n;
                    }

                    Assert.Equal((byte)trip, buffer[0]);
                }

                p.Client.Shutdown(SocketShutdown.Send);
                return Trips;
            })).ToArray();

            var done = await Task.WhenAll(clients).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(Connections * Trips, done.Sum());
            await Task.WhenAll(servers).WaitAsync(Limit);
        }
        finally
        {
            foreach (var (client, server) in pairs)
            {
                client.Dispose();
                server.Dispose();
            }
        }

        static async Task EchoAsync(EpollSocket socket)
        {
            var buffer = new byte[700];
            while (await socket.ReceiveAsync(buffer) is var n && n > 0)
                await socket.SendAllAsync(buffer.AsMemory(0, n));
        }
    }
}
