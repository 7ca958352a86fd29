using System.Buffers.Binary;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Weft.Proxy.Http2;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// What any app's h2c (gRPC) needs of the own HTTP/2 server beyond our own client's traffic, frame by frame against
/// <see cref="Http2ServerConnection"/> alone: response trailers after the body (or after a bodiless head), request
/// trailers exposed as Kestrel exposes them, a response that flows while the request body still arrives, and resets
/// both ways.
/// </summary>
public sealed class Http2ServerTrailersTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    /// <summary>Frames of <paramref name="streamId"/> until its END_STREAM or RST_STREAM (other streams' and connection frames skipped).</summary>
    private static async Task<List<(FrameHeader Header, byte[] Payload)>> StreamFramesAsync(RawH2Client raw, int streamId)
    {
        var frames = new List<(FrameHeader, byte[])>();
        while (await raw.ReadFrameAsync() is { } frame)
        {
            if (frame.Header.StreamId != streamId)
                continue;
            frames.Add(frame);
            if (frame.Header.Type == FrameType.RstStream || (frame.Header.Flags & FrameFlags.EndStream) != 0)
                return frames;
        }

        throw new IOException($"the connection closed before stream {streamId} ended");
    }

    private static bool Ends(FrameHeader header) => (header.Flags & FrameFlags.EndStream) != 0;

    private static (string, string)[] Post(string path) => [(":method", "POST"), (":scheme", "http"), (":authority", "echo"), (":path", path)];

    [Fact]
    public async Task ResponseTrailersAddedAfterTheBodyStarted_FollowTheData_AsALastHeadersFrameWithEndStream()
    {
        var supported = false;
        await using var server = await OwnServer.StartAsync(async c =>
        {
            supported = c.Response.SupportsTrailers();
            await c.Response.WriteAsync("hello");
            await c.Response.Body.FlushAsync();
            // Neither declared in a Trailer header nor known before the body started, as gRPC's status is.
            c.Response.AppendTrailer("grpc-status", "0");
            c.Response.AppendTrailer("grpc-message", "fine");
        });
        await using var raw = await RawH2Client.ConnectAsync(server.Address, marked: false);

        await raw.GetAsync(1, "/");
        var frames = await StreamFramesAsync(raw, 1);

        Assert.True(supported);
        var (head, headBlock) = frames[0];
        Assert.Equal(FrameType.Headers, head.Type);
        Assert.False(Ends(head));
        Assert.Equal("200", raw.Decode(headBlock)[":status"]);
        var data = frames.Skip(1).SkipLast(1).ToList();
        Assert.All(data, f => Assert.Equal(FrameType.Data, f.Header.Type));
        Assert.All(data, f => Assert.False(Ends(f.Header)));
        Assert.Equal("hello", Encoding.ASCII.GetString([.. data.SelectMany(f => f.Payload)]));
        var (last, trailerBlock) = frames[^1];
        Assert.Equal(FrameType.Headers, last.Type);
        Assert.True(Ends(last));
        var trailers = raw.Decode(trailerBlock);
        Assert.Equal(new Dictionary<string, string> { ["grpc-status"] = "0", ["grpc-message"] = "fine" }, trailers);
    }

    [Fact]
    public async Task ResponseTrailersWithoutABody_AreAHeadersFrameAfterTheHead_NoData()
    {
        await using var server = await OwnServer.StartAsync(c =>
        {
            c.Response.ContentType = "application/grpc";
            c.Response.AppendTrailer("grpc-status", "5");
            return Task.CompletedTask;
        });
        await using var raw = await RawH2Client.ConnectAsync(server.Address, marked: false);

        await raw.GetAsync(1, "/");
        var frames = await StreamFramesAsync(raw, 1);

        Assert.Equal([FrameType.Headers, FrameType.Headers], frames.Select(f => f.Header.Type));
        Assert.False(Ends(frames[0].Header));
        Assert.Equal("application/grpc", raw.Decode(frames[0].Payload)["content-type"]);
        Assert.True(Ends(frames[1].Header));
        Assert.Equal(new Dictionary<string, string> { ["grpc-status"] = "5" }, raw.Decode(frames[1].Payload));
    }

    [Fact]
    public async Task ResponseTrailers_AreReadOnlyOnceTheResponseEnded()
    {
        var readOnly = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await OwnServer.StartAsync(async c =>
        {
            c.Response.AppendTrailer("x-sum", "3");
            await c.Response.CompleteAsync();
            var trailers = c.Features.Get<IHttpResponseTrailersFeature>()!.Trailers;
            readOnly.SetResult(trailers.IsReadOnly && Throws(() => trailers["x-late"] = "1"));
        });
        await using var raw = await RawH2Client.ConnectAsync(server.Address, marked: false);

        await raw.GetAsync(1, "/");
        var frames = await StreamFramesAsync(raw, 1);

        Assert.True(await readOnly.Task.WaitAsync(Deadline));
        Assert.Equal(new Dictionary<string, string> { ["x-sum"] = "3" }, raw.Decode(frames[^1].Payload));
    }

    private static bool Throws(Action action)
    {
        try
        {
            action();
            return false;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }

    [Fact]
    public async Task RequestTrailers_AreAvailableOnceTheBodyIsReadToTheEnd_WithTheirFields()
    {
        await using var server = await OwnServer.StartAsync(async c =>
        {
            var feature = c.Features.Get<IHttpRequestTrailersFeature>()!;
            var before = feature.Available;
            var body = await new StreamReader(c.Request.Body).ReadToEndAsync();
            await c.Response.WriteAsync($"before={before} after={feature.Available} body={body} checksum={c.Request.GetTrailer("x-checksum")} "
                + $"count={feature.Trailers.Count}");
        });
        await using var raw = await RawH2Client.ConnectAsync(server.Address, marked: false);

        await raw.SendHeadersAsync(1, endStream: false, Post("/upload"));
        await raw.SendDataAsync(1, "abc"u8, endStream: false);
        await raw.SendHeadersAsync(1, endStream: true, ("x-checksum", "42"), ("x-more", "yes"));
        var (status, body, _) = await raw.ReadResponseAsync(1);

        Assert.Equal(200, status);
        Assert.Equal("before=False after=True body=abc checksum=42 count=2", Encoding.ASCII.GetString(body));
    }

    [Fact]
    public async Task RequestWithoutBody_HasItsTrailersAvailableAtOnce_AndNone()
    {
        await using var server = await OwnServer.StartAsync(c =>
        {
            var feature = c.Features.Get<IHttpRequestTrailersFeature>()!;
            return c.Response.WriteAsync($"available={feature.Available} count={feature.Trailers.Count}");
        });
        await using var raw = await RawH2Client.ConnectAsync(server.Address, marked: false);

        await raw.GetAsync(1, "/");
        var (_, body, _) = await raw.ReadResponseAsync(1);

        Assert.Equal("available=True count=0", Encoding.ASCII.GetString(body));
    }

    [Fact]
    public async Task RequestTrailersWithAPseudoHeader_ResetTheStreamWithProtocolError_AndTheConnectionGoesOn()
    {
        await using var server = await OwnServer.StartAsync(async c =>
        {
            await c.Request.Body.CopyToAsync(Stream.Null);
            await c.Response.WriteAsync("ok");
        });
        await using var raw = await RawH2Client.ConnectAsync(server.Address, marked: false);

        await raw.SendHeadersAsync(1, endStream: false, Post("/upload"));
        await raw.SendHeadersAsync(1, endStream: true, (":path", "/other"));
        var reset = await raw.ReadUntilAsync(h => h.StreamId == 1 && h.Type is FrameType.RstStream or FrameType.Headers);

        Assert.Equal(FrameType.RstStream, reset!.Value.Header.Type);
        Assert.Equal(Http2ErrorCode.ProtocolError, (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(reset.Value.Payload));
        await raw.GetAsync(3, "/fine");
        var (status, body, _) = await raw.ReadResponseAsync(3);
        Assert.Equal(200, status);
        Assert.Equal("ok", Encoding.ASCII.GetString(body));
    }

    [Fact]
    public async Task FullDuplex_EachResponseChunkArrivesWhileTheRequestBodyIsStillOpen_ThenTrailersEndIt()
    {
        await using var server = await OwnServer.StartAsync(async c =>
        {
            var chunks = 0;
            var reader = c.Request.BodyReader;
            while (true)
            {
                var read = await reader.ReadAsync(c.RequestAborted);
                foreach (var segment in read.Buffer)
                    await c.Response.Body.WriteAsync(Encoding.ASCII.GetBytes(Encoding.ASCII.GetString(segment.Span).ToUpperInvariant()));
                if (!read.Buffer.IsEmpty)
                    chunks++;
                reader.AdvanceTo(read.Buffer.End);
                await c.Response.Body.FlushAsync();
                if (read.IsCompleted)
                    break;
            }

            c.Response.AppendTrailer("x-chunks", chunks.ToString(System.Globalization.CultureInfo.InvariantCulture));
        });
        await using var raw = await RawH2Client.ConnectAsync(server.Address, marked: false);

        await raw.SendHeadersAsync(1, endStream: false, Post("/duplex"));
        for (var i = 1; i <= 3; i++)
        {
            await raw.SendDataAsync(1, Encoding.ASCII.GetBytes($"chunk {i};"), endStream: false);
            // The request is still open: this answer only comes if the response flows meanwhile.
            var answer = await raw.ReadUntilAsync(h => h.StreamId == 1 && h.Type is FrameType.Data or FrameType.RstStream);
            Assert.Equal(FrameType.Data, answer!.Value.Header.Type);
            Assert.False(Ends(answer.Value.Header));
            Assert.Equal($"CHUNK {i};", Encoding.ASCII.GetString(answer.Value.Payload));
        }

        await raw.SendDataAsync(1, [], endStream: true);
        var frames = await StreamFramesAsync(raw, 1);
        Assert.Equal(FrameType.Headers, frames[^1].Header.Type);
        Assert.Equal(new Dictionary<string, string> { ["x-chunks"] = "3" }, raw.Decode(frames[^1].Payload));
    }

    [Fact]
    public async Task ExpectContinue_GetsAnInterim100WhenTheAppReadsTheBody_ThenTheResponse()
    {
        await using var server = await OwnServer.StartAsync(async c =>
            await c.Response.WriteAsync("got " + await new StreamReader(c.Request.Body).ReadToEndAsync()));
        await using var raw = await RawH2Client.ConnectAsync(server.Address, marked: false);

        await raw.SendHeadersAsync(1, endStream: false, [.. Post("/upload"), ("expect", "100-continue")]);
        var interim = await raw.ReadUntilAsync(h => h.StreamId == 1);
        Assert.Equal(FrameType.Headers, interim!.Value.Header.Type);
        Assert.False(Ends(interim.Value.Header));
        Assert.Equal("100", raw.Decode(interim.Value.Payload)[":status"]);
        await raw.SendDataAsync(1, "abc"u8, endStream: true);
        var (status, body, _) = await raw.ReadResponseAsync(1);

        Assert.Equal(200, status);
        Assert.Equal("got abc", Encoding.ASCII.GetString(body));
    }

    [Fact]
    public async Task ClientReset_FiresRequestAborted_MidStream()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await OwnServer.StartAsync(async c =>
        {
            c.RequestAborted.Register(() => aborted.TrySetResult());
            await c.Response.WriteAsync("first");
            await c.Response.Body.FlushAsync();
            await c.Request.Body.CopyToAsync(Stream.Null, c.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
        });
        await using var raw = await RawH2Client.ConnectAsync(server.Address, marked: false);

        await raw.SendHeadersAsync(1, endStream: false, Post("/stream"));
        Assert.NotNull(await raw.ReadUntilAsync(h => h.StreamId == 1 && h.Type == FrameType.Data));
        await raw.SendFrameAsync(FrameType.RstStream, 0, 1, [0, 0, 0, (byte)Http2ErrorCode.Cancel]);

        await aborted.Task.WaitAsync(Deadline);
    }

    [Fact]
    public async Task HandlerResettingTheStream_SendsRstStreamWithItsCode_AndFiresItsOwnRequestAborted()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await OwnServer.StartAsync(async c =>
        {
            c.RequestAborted.Register(() => aborted.TrySetResult());
            await c.Response.WriteAsync("partial");
            await c.Response.Body.FlushAsync();
            c.Features.Get<IHttpResetFeature>()!.Reset((int)Http2ErrorCode.EnhanceYourCalm);
        });
        await using var raw = await RawH2Client.ConnectAsync(server.Address, marked: false);

        await raw.SendHeadersAsync(1, endStream: false, Post("/stream"));
        var frames = await StreamFramesAsync(raw, 1);

        Assert.Equal(FrameType.RstStream, frames[^1].Header.Type);
        Assert.Equal(Http2ErrorCode.EnhanceYourCalm, (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(frames[^1].Payload));
        await aborted.Task.WaitAsync(Deadline);
    }
}
