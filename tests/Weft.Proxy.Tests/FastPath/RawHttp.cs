using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Weft.Proxy.Tests.FastPath;

/// <summary>One parsed HTTP/1.1 response as raw bytes came in.</summary>
internal sealed record RawResponse(int Status, Dictionary<string, string> Headers, byte[] Body)
{
    public string Text => Encoding.UTF8.GetString(Body);

    /// <summary>The status line as it came (a stray byte before it shows here).</summary>
    public string StatusLine { get; init; } = "";

    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
}

/// <summary>
/// A client that writes bytes exactly as given on one connection and reads responses one by one (Content-Length,
/// chunked, or to the end of the connection): for pipelining, odd requests, and seeing the framing the proxy chose.
/// </summary>
internal sealed class RawClient : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RawClient(Socket socket) => _socket = socket;

    public static async Task<RawClient> ConnectAsync(IPEndPoint address)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(address);
        return new RawClient(socket);
    }

    public async Task SendAsync(string text) => await SendAsync(Encoding.ASCII.GetBytes(text));

    /// <summary>Sends <paramref name="request"/> <paramref name="times"/> times, one after the other, each answered 200.</summary>
    public async Task SendOkAsync(byte[] request, int times)
    {
        for (var i = 0; i < times; i++)
        {
            await SendAsync(request);
            var response = await ReadResponseAsync();
            Assert.Equal(200, response.Status);
        }
    }

    /// <summary>Bytes the whole test process allocated per request over <paramref name="times"/> requests (<see cref="SendOkAsync"/>).</summary>
    public async Task<long> BytesPerRequestAsync(byte[] request, int times)
    {
        var before = GC.GetTotalAllocatedBytes(precise: true);
        await SendOkAsync(request, times);
        return (GC.GetTotalAllocatedBytes(precise: true) - before) / times;
    }

    /// <summary>
    /// The lowest figure each of <paramref name="measures"/> gives over <paramref name="rounds"/> rounds, the measures
    /// taking turns within a round so that whatever else the process does falls on all of them alike.
    /// </summary>
    public static async Task<long[]> LowestOfRoundsAsync(int rounds, params Func<Task<long>>[] measures)
    {
        var lowest = Enumerable.Repeat(long.MaxValue, measures.Length).ToArray();
        for (var round = 0; round < rounds; round++)
        {
            for (var i = 0; i < measures.Length; i++)
                lowest[i] = Math.Min(lowest[i], await measures[i]());
        }

        return lowest;
    }

    /// <summary>Bytes the epoll engine threads (where the fast path runs) allocated per request over <paramref name="times"/> requests.</summary>
    public async Task<long> EngineBytesPerRequestAsync(byte[] request, int times)
    {
        var before = await EngineAllocations.ReadAsync();
        await SendOkAsync(request, times);
        return (await EngineAllocations.ReadAsync() - before) / times;
    }

    public async Task SendAsync(byte[] bytes)
    {
        var sent = 0;
        while (sent < bytes.Length)
            sent += await _socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
    }

    public void Close() => _socket.Close();

    /// <summary>Bytes received and not yet read as part of a response.</summary>
    public int Buffered => _end - _start;

    /// <summary>
    /// Sends <paramref name="size"/> zero bytes as a request body, in the background, until all are sent, the peer stops
    /// taking them (it may close once it has answered) or <paramref name="stop"/> is cancelled.
    /// </summary>
    public Task StreamBodyAsync(long size, CancellationToken stop) => Task.Run(async () =>
    {
        try
        {
            var chunk = new byte[64 * 1024];
            for (long sent = 0; sent < size && !stop.IsCancellationRequested; sent += chunk.Length)
                await SendAsync(chunk).WaitAsync(stop);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    });

    /// <summary>Waits for some bytes of a response and keeps them; how many there were.</summary>
    public async Task<int> ReadSomeAsync()
    {
        using var cts = new CancellationTokenSource(Deadline);
        var before = _end - _start;
        await FillAsync(cts.Token);
        return _end - _start - before;
    }

    /// <summary>True when the proxy closed the connection (reads 0 bytes) within the deadline.</summary>
    public async Task<bool> ClosedByPeerAsync()
    {
        using var cts = new CancellationTokenSource(Deadline);
        try
        {
            return _end == _start && await _socket.ReceiveAsync(_buffer.AsMemory(0), SocketFlags.None, cts.Token) == 0;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    public async Task<RawResponse> ReadResponseAsync(bool headRequest = false)
    {
        using var cts = new CancellationTokenSource(Deadline);
        int headEnd;
        while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
            await FillAsync(cts.Token);
        var head = Encoding.ASCII.GetString(_buffer, _start, headEnd);
        _start += headEnd + 4;
        var lines = head.Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim();
            headers[name] = headers.TryGetValue(name, out var before) ? before + "," + value : value;
        }

        var body = new MemoryStream();
        if (headRequest || status is 204 or 304 || status < 200)
            return new RawResponse(status, headers, []) { StatusLine = lines[0] };
        if (headers.TryGetValue("Transfer-Encoding", out var te) && te.Split(',')[^1].Trim().Equals("chunked", StringComparison.OrdinalIgnoreCase))
        {
            while (true)
            {
                var line = await ReadLineAsync(cts.Token);
                var size = Convert.ToInt32(line.Split(';')[0], 16);
                if (size == 0)
                {
                    while ((await ReadLineAsync(cts.Token)).Length > 0)
                    {
                    }

                    break;
                }

                await ReadBodyAsync(body, size, cts.Token);
                await ReadLineAsync(cts.Token);
            }
        }
        else if (headers.TryGetValue("Content-Length", out var cl))
        {
            // (Repeated lines with one value are one length, RFC 9110 8.6.)
            await ReadBodyAsync(body, long.Parse(cl.Split(',').Distinct().Single(), System.Globalization.CultureInfo.InvariantCulture), cts.Token);
        }
        else
        {
            while (true)
            {
                body.Write(_buffer, _start, _end - _start);
                _start = _end = 0;
                var n = await _socket.ReceiveAsync(_buffer.AsMemory(), SocketFlags.None, cts.Token);
                if (n == 0)
                    break;
                _end = n;
            }
        }

        return new RawResponse(status, headers, body.ToArray()) { StatusLine = lines[0] };
    }

    private async Task ReadBodyAsync(MemoryStream body, long length, CancellationToken token)
    {
        while (length > 0)
        {
            if (_start == _end)
                await FillAsync(token);
            var take = (int)Math.Min(length, _end - _start);
            body.Write(_buffer, _start, take);
            _start += take;
            length -= take;
        }
    }

    private async Task<string> ReadLineAsync(CancellationToken token)
    {
        int end;
        while ((end = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8)) < 0)
            await FillAsync(token);
        var line = Encoding.ASCII.GetString(_buffer, _start, end);
        _start += end + 2;
        return line;
    }

    private async Task FillAsync(CancellationToken token)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        var n = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, token);
        if (n == 0)
            throw new IOException("connection closed before the response was complete");
        _end += n;
    }

    public void Dispose() => _socket.Dispose();
}

/// <summary>
/// An upstream written against the socket: reads each request head and answers with the exact bytes a test gives,
/// then keeps the connection or closes it — for framings and behaviours a real server would not produce on demand.
/// </summary>
internal sealed class RawUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<string, (byte[] Response, bool Close)> _answer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly List<Socket> _sockets = [];
    private int _connections;

    private readonly Func<string, bool>? _stall;

    /// <param name="stall">For a head it is true of: after answering, the upstream neither reads nor closes (until disposed).</param>
    public RawUpstream(Func<string, (byte[] Response, bool Close)> answer, Func<string, bool>? stall = null)
    {
        _answer = answer;
        _stall = stall;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public IPEndPoint Address => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    private async Task AcceptAsync()
    {
        var served = new List<Task>();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var socket = await _listener.AcceptSocketAsync(_stop.Token);
                lock (_sockets)
                    _sockets.Add(socket);
                Interlocked.Increment(ref _connections);
                served.Add(ServeAsync(socket));
            }
        }
        catch (OperationCanceledException)
        {
        }

        await Task.WhenAll(served);
    }

    /// <summary>Writes <paramref name="bytes"/> on the <paramref name="connection"/>th connection accepted (from 0), unasked.</summary>
    public async Task SendUnsolicitedAsync(int connection, byte[] bytes)
    {
        Socket socket;
        lock (_sockets)
            socket = _sockets[connection];
        await socket.SendAsync(bytes, SocketFlags.None, _stop.Token);
    }

    private async Task ServeAsync(Socket socket)
    {
        using var _ = socket;
        var buffer = new byte[16 * 1024];
        var have = 0;
        try
        {
            while (true)
            {
                int end;
                while ((end = buffer.AsSpan(0, have).IndexOf("\r\n\r\n"u8)) < 0)
                {
                    var n = await socket.ReceiveAsync(buffer.AsMemory(have), SocketFlags.None, _stop.Token);
                    if (n == 0)
                        return;
                    have += n;
                }

                var head = Encoding.ASCII.GetString(buffer, 0, end);
                Buffer.BlockCopy(buffer, end + 4, buffer, 0, have - end - 4);
                have -= end + 4;
                var (response, close) = _answer(head);
                await socket.SendAsync(response, SocketFlags.None, _stop.Token);
                if (_stall?.Invoke(head) == true)
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                if (close)
                {
                    socket.Shutdown(SocketShutdown.Both);
                    return;
                }
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
