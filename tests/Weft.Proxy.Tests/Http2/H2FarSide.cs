using System.Net;
using System.Net.Sockets;
using Weft.Proxy.Http2;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// A scripted far sidecar for end-to-end tests: an h2c server on a loopback port (a client sidecar without a workload
/// identity speaks h2c to sidecar endpoints) that takes any number of connections, answers SETTINGS and PING as a
/// server must, decodes each request's head and answers it with the exact frames <c>answer</c> gives for its
/// <c>:path</c> and stream id — for responses a real sidecar would never send (a content-length its DATA disagrees with).
/// </summary>
internal sealed class H2FarSide : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<string, int, byte[]> _answer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _requests;

    /// <param name="answer">The frames that answer a request for this path on this stream id.</param>
    public H2FarSide(Func<string, int, byte[]> answer)
    {
        _answer = answer;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>
    /// Responses whose DATA disagrees with their content-length (RFC 9113 8.1.1): the frames on a stream, the length
    /// they declare, the body they send.
    /// </summary>
    public static readonly Dictionary<string, (Func<int, byte[]> Frames, int Declared, string Sent)> LengthCases = new()
    {
        ["longer, one DATA frame"] = (id => Response(id, 5, "helloHTTP/1"), 5, "helloHTTP/1"),
        ["longer, the declared bytes first"] = (id => [.. Head(id, 5), .. Data(id, false, "hello"), .. Data(id, true, "HTTP/1")], 5, "helloHTTP/1"),
        ["shorter, then END_STREAM"] = (id => Response(id, 11, "hello"), 11, "hello"),
        ["shorter, END_STREAM on an empty DATA"] = (id => [.. Head(id, 11), .. Data(id, false, "hello"), .. Data(id, true, "")], 11, "hello"),
    };

    /// <summary>A far side that answers <c>/first</c> with <paramref name="first"/>'s frames, any other path with "fresh {path}".</summary>
    public static H2FarSide Scripted(Func<int, byte[]> first) =>
        new((path, id) => path == "/first" ? first(id) : Response(id, 6 + path.Length, "fresh " + path));

    public IPEndPoint Address => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>Requests answered so far.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>A 200's HEADERS with this content-length, the stream left open for DATA.</summary>
    public static byte[] Head(int streamId, long contentLength) =>
        H2Peer.Headers(streamId, false, (":status", "200"), ("content-length", contentLength.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>A 200 with this content-length and body, in one DATA frame that ends the stream.</summary>
    public static byte[] Response(int streamId, long contentLength, string body) => [.. Head(streamId, contentLength), .. Data(streamId, true, body)];

    public static byte[] Data(int streamId, bool end, string text) =>
        H2Peer.Frame(FrameType.Data, end ? FrameFlags.EndStream : (byte)0, streamId, System.Text.Encoding.Latin1.GetBytes(text));

    private async Task AcceptAsync()
    {
        var served = new List<Task>();
        try
        {
            while (true)
                served.Add(ServeAsync(await _listener.AcceptSocketAsync(_stop.Token)));
        }
        catch (OperationCanceledException)
        {
        }

        await Task.WhenAll(served);
    }

    private async Task ServeAsync(Socket socket)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        var decoder = new HPackDecoder();
        var block = new MemoryStream();
        var paths = new Dictionary<int, string>();
        var head = new byte[FrameHeader.Size];
        try
        {
            var preface = new byte[Frames.ClientPreface.Length];
            await stream.ReadExactlyAsync(preface, _stop.Token);
            var settings = new byte[64];
            await stream.WriteAsync(settings.AsMemory(0, Frames.WriteSettings(settings, [(SettingId.MaxConcurrentStreams, 100u)])), _stop.Token);
            var blockStream = 0;
            var blockEnds = false;
            while (true)
            {
                await stream.ReadExactlyAsync(head, _stop.Token);
                var header = FrameHeader.Read(head);
                var payload = new byte[header.Length];
                await stream.ReadExactlyAsync(payload, _stop.Token);
                byte[]? reply = null;
                switch (header.Type)
                {
                    case FrameType.Settings when (header.Flags & FrameFlags.Ack) == 0:
                        reply = new byte[FrameHeader.Size];
                        Frames.WriteSettingsAck(reply);
                        break;
                    case FrameType.Ping when (header.Flags & FrameFlags.Ack) == 0:
                        reply = H2Peer.Frame(FrameType.Ping, FrameFlags.Ack, 0, payload);
                        break;
                    case FrameType.GoAway:
                        return;
                    case FrameType.Headers or FrameType.Continuation:
                        if (header.Type == FrameType.Headers)
                        {
                            blockStream = header.StreamId;
                            blockEnds = (header.Flags & FrameFlags.EndStream) != 0;
                            block.SetLength(0);
                            block.Write(Fragment(header, payload));
                        }
                        else
                        {
                            block.Write(payload);
                        }

                        if ((header.Flags & FrameFlags.EndHeaders) == 0)
                            break;
                        // Every block is decoded (the dynamic table follows them all); the request is answered at its end.
                        var fields = new HeaderList();
                        decoder.Decode(block.GetBuffer().AsSpan(0, (int)block.Length), fields);
                        paths[blockStream] = fields[":path"] ?? "";
                        if (blockEnds)
                            reply = Answer(paths[blockStream], blockStream);
                        break;
                    case FrameType.Data when (header.Flags & FrameFlags.EndStream) != 0 && paths.TryGetValue(header.StreamId, out var path):
                        reply = Answer(path, header.StreamId);
                        break;
                }

                if (reply is not null)
                    await stream.WriteAsync(reply, _stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or EndOfStreamException)
        {
        }
    }

    private byte[] Answer(string path, int streamId)
    {
        Interlocked.Increment(ref _requests);
        return _answer(path, streamId);
    }

    /// <summary>The block's fragment: HEADERS' payload without its padding and priority fields.</summary>
    private static ReadOnlySpan<byte> Fragment(FrameHeader header, byte[] payload)
    {
        var span = payload.AsSpan();
        if ((header.Flags & FrameFlags.Padded) != 0)
            span = span[1..^payload[0]];
        if ((header.Flags & FrameFlags.Priority) != 0)
            span = span[5..];
        return span;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
