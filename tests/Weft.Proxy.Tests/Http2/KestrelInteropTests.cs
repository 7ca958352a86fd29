using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Weft.Proxy.Http2;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// The codec against a real peer: Kestrel speaking h2c with prior knowledge to a raw socket whose frames and header
/// blocks are all ours. Kestrel indexes its response headers in its dynamic table, so the second response on the
/// connection only decodes right if our table kept step with the first.
/// </summary>
public sealed class KestrelInteropTests
{
    [Fact]
    public async Task TwoRequestsOnOneConnection_DecodeKestrelsResponses()
    {
        await using var backend = await Backend.StartAsync(app => app.Run(async context =>
        {
            context.Response.Headers["x-weft-echo"] = "echo:" + context.Request.Path;
            context.Response.Headers["x-weft-authority"] = context.Request.Host.Value;
            context.Response.Headers.CacheControl = "private";
            context.Response.ContentType = "text/plain";
            await context.Response.WriteAsync("ok");
        }), HttpProtocols.Http2);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(backend.Address, timeout.Token);
        await using var stream = new NetworkStream(socket);
        var connection = new RawH2(stream, timeout.Token);
        var decoder = new HPackDecoder();

        await connection.SendPrefaceAsync();
        var first = await connection.GetAsync(1, "/x", $"127.0.0.1:{backend.Port}", decoder);
        Assert.Equal("200", first[":status"]);
        Assert.Equal("echo:/x", first["x-weft-echo"]);
        Assert.Equal($"127.0.0.1:{backend.Port}", first["x-weft-authority"]);
        Assert.Equal("text/plain", first["content-type"]);
        Assert.True(decoder.TableCount > 0, "Kestrel indexed nothing, so the second request tests nothing more than the first");

        var second = await connection.GetAsync(3, "/y", $"127.0.0.1:{backend.Port}", decoder);
        Assert.Equal("200", second[":status"]);
        Assert.Equal("echo:/y", second["x-weft-echo"]);
        Assert.Equal($"127.0.0.1:{backend.Port}", second["x-weft-authority"]);
        Assert.Equal("private", second["cache-control"]);
        Assert.Equal("text/plain", second["content-type"]);
    }

    /// <summary>Just enough of an h2 client to send a GET and read its response, frame by frame.</summary>
    private sealed class RawH2(NetworkStream stream, CancellationToken cancel)
    {
        public async Task SendPrefaceAsync()
        {
            var buffer = new byte[64];
            Frames.ClientPreface.CopyTo(buffer);
            var length = Frames.ClientPreface.Length;
            length += Frames.WriteSettings(buffer.AsSpan(length), [(SettingId.EnablePush, 0u)]);
            await stream.WriteAsync(buffer.AsMemory(0, length), cancel);
        }

        public async Task<HeaderList> GetAsync(int streamId, string path, string authority, HPackDecoder decoder)
        {
            await SendHeadersAsync(streamId, path, authority);
            var response = new HeaderList();
            var block = new List<byte>();
            var header = new byte[FrameHeader.Size];
            while (true)
            {
                await stream.ReadExactlyAsync(header, cancel);
                var frame = FrameHeader.Read(header);
                var payload = new byte[frame.Length];
                await stream.ReadExactlyAsync(payload, cancel);
                switch (frame.Type)
                {
                    case FrameType.Settings when (frame.Flags & FrameFlags.Ack) == 0:
                        var ack = new byte[FrameHeader.Size];
                        Frames.WriteSettingsAck(ack);
                        await stream.WriteAsync(ack, cancel);
                        break;
                    case FrameType.GoAway or FrameType.RstStream:
                        throw new InvalidOperationException($"Kestrel sent {frame.Type}: {Convert.ToHexString(payload)}");
                    case FrameType.Headers or FrameType.Continuation when frame.StreamId == streamId:
                        Assert.Equal(0, frame.Flags & (FrameFlags.Padded | FrameFlags.Priority));
                        block.AddRange(payload);
                        if ((frame.Flags & FrameFlags.EndHeaders) != 0)
                            decoder.Decode(block.ToArray(), response);
                        break;
                }
                if (frame.StreamId == streamId && (frame.Flags & FrameFlags.EndStream) != 0 && frame.Type is FrameType.Data or FrameType.Headers)
                    return response;
            }
        }

        private async Task SendHeadersAsync(int streamId, string path, string authority)
        {
            var buffer = new byte[512];
            var length = FrameHeader.Size;
            length += Encode(":method", "GET");
            length += Encode(":scheme", "http");
            length += Encode(":path", path);
            length += Encode(":authority", authority);
            length += Encode("user-agent", "weft-h2codec-test");
            new FrameHeader(length - FrameHeader.Size, FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, streamId).Write(buffer);
            await stream.WriteAsync(buffer.AsMemory(0, length), cancel);

            int Encode(string name, string value)
            {
                var written = HPackEncoder.EncodeField(System.Text.Encoding.ASCII.GetBytes(name), System.Text.Encoding.ASCII.GetBytes(value), buffer.AsSpan(length));
                Assert.True(written > 0);
                return written;
            }
        }
    }
}
