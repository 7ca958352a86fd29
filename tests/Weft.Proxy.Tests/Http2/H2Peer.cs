using System.Buffers.Binary;
using System.Net.Sockets;
using Weft.Proxy.Http2;

namespace Weft.Proxy.Tests.Http2;

/// <summary>A scripted HTTP/2 server for the own client's tests, one connection's end: preface and SETTINGS exchanged, then frames as the test writes them.</summary>
internal sealed class H2Peer(Socket socket) : IAsyncDisposable
{
    private readonly NetworkStream _stream = new(socket, ownsSocket: true);

    public static async Task<H2Peer> AcceptAsync(TcpListener listener)
    {
        var peer = new H2Peer(await listener.AcceptSocketAsync());
        var preface = new byte[24];
        await peer._stream.ReadExactlyAsync(preface);
        Assert.Equal(Frames.ClientPreface.ToArray(), preface);
        var settings = new byte[64];
        var n = Frames.WriteSettings(settings, [(SettingId.MaxConcurrentStreams, 10u)]);
        n += Frames.WriteSettingsAck(settings.AsSpan(n));
        await peer._stream.WriteAsync(settings.AsMemory(0, n));
        return peer;
    }

    public static byte[] Frame(FrameType type, byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[FrameHeader.Size + payload.Length];
        new FrameHeader(payload.Length, type, flags, streamId).Write(frame);
        payload.CopyTo(frame.AsSpan(FrameHeader.Size));
        return frame;
    }

    /// <summary>A header block of these fields, as given (names not lower-cased, no Huffman, no indexing).</summary>
    public static byte[] Block(params (string Name, string Value)[] fields)
    {
        var block = new byte[4096];
        var n = 0;
        foreach (var (name, value) in fields)
            n += HPackEncoder.EncodeField(System.Text.Encoding.Latin1.GetBytes(name), System.Text.Encoding.Latin1.GetBytes(value), block.AsSpan(n));
        return block[..n];
    }

    /// <summary>A HEADERS frame (END_HEADERS) of these fields on <paramref name="streamId"/>.</summary>
    public static byte[] Headers(int streamId, bool endStream, params (string Name, string Value)[] fields) =>
        Frame(FrameType.Headers, (byte)(FrameFlags.EndHeaders | (endStream ? FrameFlags.EndStream : 0)), streamId, Block(fields));

    /// <summary>A 4-byte big-endian payload (RST_STREAM's code, WINDOW_UPDATE's increment).</summary>
    public static byte[] UInt32(uint value)
    {
        var payload = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(payload, value);
        return payload;
    }

    /// <summary>The error code of the next GOAWAY the client sends.</summary>
    public async Task<Http2ErrorCode> ReadGoAwayAsync()
    {
        var (header, payload) = await ReadUntilAsync(FrameType.GoAway);
        Assert.Equal(0, header.StreamId);
        return (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(4));
    }

    public Task WriteAsync(byte[] bytes) => _stream.WriteAsync(bytes).AsTask();

    /// <summary>Reads frames (the client's SETTINGS, its ACK, WINDOW_UPDATEs...) until one of <paramref name="type"/>.</summary>
    public async Task<(FrameHeader Header, byte[] Payload)> ReadUntilAsync(FrameType type)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var head = new byte[FrameHeader.Size];
        while (true)
        {
            await _stream.ReadExactlyAsync(head, deadline.Token);
            var header = FrameHeader.Read(head);
            var payload = new byte[header.Length];
            await _stream.ReadExactlyAsync(payload, deadline.Token);
            if (header.Type == type)
                return (header, payload);
        }
    }

    /// <summary>The next GOAWAY is NO_ERROR with last stream id 0, and the connection ends after it.</summary>
    public async Task ExpectGoAwayNoErrorThenEndAsync()
    {
        var (header, payload) = await ReadUntilAsync(FrameType.GoAway);
        Assert.Equal(0, header.StreamId);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7FFF_FFFF);
        Assert.Equal((uint)Http2ErrorCode.NoError, BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(4)));
        await ExpectEndAsync();
    }

    /// <summary>Reads until the client closes the connection (within the deadline).</summary>
    public async Task ExpectEndAsync()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[4096];
        try
        {
            while (await _stream.ReadAsync(buffer, deadline.Token) > 0)
            {
            }
        }
        catch (IOException)
        {
            // A reset is an end too.
        }
    }

    public ValueTask DisposeAsync() => _stream.DisposeAsync();
}
