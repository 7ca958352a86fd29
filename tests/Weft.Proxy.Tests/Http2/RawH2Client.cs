using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Weft.Proxy.Http2;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// A hand-driven h2c client for tests that need exact frames: the preface and a first SETTINGS (marked as our own
/// client's or not), then whatever frames the test writes, and frames read one by one with a deadline.
/// </summary>
internal sealed class RawH2Client : IAsyncDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly HPackDecoder _decoder = new();
    private readonly Queue<(FrameHeader Header, byte[] Payload)> _unread = new();

    private RawH2Client(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>
    /// Connects, sends the preface and a first SETTINGS (ENABLE_PUSH 0, the marker when <paramref name="marked"/>, then
    /// <paramref name="settings"/>), and, as every real client does, acknowledges the server's SETTINGS (the frame stays
    /// for the test to read) unless <paramref name="ackSettings"/> is false.
    /// </summary>
    public static async Task<RawH2Client> ConnectAsync(IPEndPoint address, bool marked = true, bool ackSettings = true,
        params (SettingId Id, uint Value)[] settings)
    {
        var client = await OpenAsync(address);
        (SettingId, uint)[] first = marked
            ? [(SettingId.EnablePush, 0u), (OwnClientMarker.Setting, OwnClientMarker.Value), .. settings]
            : [(SettingId.EnablePush, 0u), .. settings];
        var buffer = new byte[Frames.ClientPreface.Length + FrameHeader.Size + first.Length * 6];
        Frames.ClientPreface.CopyTo(buffer);
        var n = Frames.ClientPreface.Length;
        n += Frames.WriteSettings(buffer.AsSpan(n), first);
        await client.SendAsync(buffer.AsMemory(0, n));
        if (ackSettings)
        {
            var serverSettings = await client.ReadFrameAsync() ?? throw new IOException("the server closed the connection before its SETTINGS");
            Assert.Equal(FrameType.Settings, serverSettings.Header.Type);
            client._unread.Enqueue(serverSettings);
            await client.SendFrameAsync(FrameType.Settings, FrameFlags.Ack, 0, []);
        }

        return client;
    }

    /// <summary>A bare connection: nothing sent yet, not even the preface.</summary>
    public static async Task<RawH2Client> OpenAsync(IPEndPoint address)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(address);
        return new RawH2Client(socket);
    }

    public async Task SendAsync(ReadOnlyMemory<byte> bytes) => await _stream.WriteAsync(bytes);

    public Task SendFrameAsync(FrameType type, byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[FrameHeader.Size + payload.Length];
        new FrameHeader(payload.Length, type, flags, streamId).Write(frame);
        payload.CopyTo(frame.AsSpan(FrameHeader.Size));
        return SendAsync(frame);
    }

    /// <summary>A request head as one HEADERS frame with the fields in the order given (names as given, not lower-cased).</summary>
    public Task SendHeadersAsync(int streamId, bool endStream, params (string Name, string Value)[] fields)
    {
        var block = new byte[4096];
        var n = 0;
        foreach (var (name, value) in fields)
            n += HPackEncoder.EncodeField(System.Text.Encoding.ASCII.GetBytes(name), System.Text.Encoding.ASCII.GetBytes(value), block.AsSpan(n));
        return SendFrameAsync(FrameType.Headers, (byte)(FrameFlags.EndHeaders | (endStream ? FrameFlags.EndStream : 0)), streamId, block.AsSpan(0, n));
    }

    /// <summary>A DATA frame on <paramref name="streamId"/>, END_STREAM when <paramref name="endStream"/>.</summary>
    public Task SendDataAsync(int streamId, ReadOnlySpan<byte> data, bool endStream) =>
        SendFrameAsync(FrameType.Data, endStream ? FrameFlags.EndStream : (byte)0, streamId, data);

    /// <summary>A header block the server sent, decoded with this connection's HPACK state.</summary>
    public Dictionary<string, string> Decode(byte[] block)
    {
        var sink = new Sink();
        _decoder.Decode(block, sink);
        return sink.Fields;
    }

    /// <summary>A SETTINGS frame (not an ACK) with <paramref name="settings"/>.</summary>
    public Task SendSettingsAsync(params (SettingId Id, uint Value)[] settings)
    {
        var frame = new byte[FrameHeader.Size + settings.Length * 6];
        Frames.WriteSettings(frame, settings);
        return SendAsync(frame);
    }

    public Task GetAsync(int streamId, string path) =>
        SendHeadersAsync(streamId, endStream: true, (":method", "GET"), (":scheme", "http"), (":authority", "orders"), (":path", path));

    /// <summary>The next frame; null when the server closed the connection.</summary>
    public async Task<(FrameHeader Header, byte[] Payload)?> ReadFrameAsync()
    {
        if (_unread.TryDequeue(out var kept))
            return kept;
        using var timeout = new CancellationTokenSource(Deadline);
        var head = new byte[FrameHeader.Size];
        if (!await ReadExactlyAsync(head, timeout.Token))
            return null;
        var header = FrameHeader.Read(head);
        var payload = new byte[header.Length];
        if (!await ReadExactlyAsync(payload, timeout.Token))
            return null;
        return (header, payload);
    }

    /// <summary>Frames until one matches, skipping the others; null at the end of the connection.</summary>
    public async Task<(FrameHeader Header, byte[] Payload)?> ReadUntilAsync(Func<FrameHeader, bool> match)
    {
        while (await ReadFrameAsync() is { } frame)
        {
            if (match(frame.Header))
                return frame;
        }

        return null;
    }

    /// <summary>Reads a whole response on <paramref name="streamId"/>: its status and body (other streams' frames are skipped).</summary>
    public async Task<(int Status, byte[] Body, Dictionary<string, string> Headers)> ReadResponseAsync(int streamId)
    {
        var status = 0;
        var headers = new Dictionary<string, string>();
        using var body = new MemoryStream();
        while (await ReadFrameAsync() is { } frame)
        {
            var (header, payload) = frame;
            if (header.Type == FrameType.Headers)
            {
                var sink = new Sink();
                _decoder.Decode(payload, sink);
                if (header.StreamId == streamId)
                {
                    headers = sink.Fields;
                    status = int.Parse(sink.Fields[":status"], System.Globalization.CultureInfo.InvariantCulture);
                }
            }
            else if (header.Type == FrameType.Data && header.StreamId == streamId)
            {
                body.Write(payload);
                if (payload.Length > 0 && (header.Flags & FrameFlags.EndStream) == 0)
                {
                    var update = new byte[4];
                    BinaryPrimitives.WriteUInt32BigEndian(update, (uint)payload.Length);
                    await SendFrameAsync(FrameType.WindowUpdate, 0, 0, update);
                    await SendFrameAsync(FrameType.WindowUpdate, 0, streamId, update);
                }
            }
            else if (header.Type == FrameType.RstStream && header.StreamId == streamId)
            {
                throw new IOException($"stream {streamId} reset with {(Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(payload)}");
            }

            if (header.StreamId == streamId && (header.Flags & FrameFlags.EndStream) != 0 && header.Type is FrameType.Headers or FrameType.Data)
                return (status, body.ToArray(), headers);
        }

        throw new IOException("the connection closed before the response ended");
    }

    private async Task<bool> ReadExactlyAsync(byte[] buffer, CancellationToken token)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            int n;
            try
            {
                n = await _stream.ReadAsync(buffer.AsMemory(read), token);
            }
            catch (IOException)
            {
                return false;
            }

            if (n == 0)
                return false;
            read += n;
        }

        return true;
    }

    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }

    private sealed class Sink : IHeaderSink
    {
        public Dictionary<string, string> Fields { get; } = [];

        public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) =>
            Fields[System.Text.Encoding.ASCII.GetString(name)] = System.Text.Encoding.Latin1.GetString(value);
    }
}
