using System.Text;
using Weft.Server.Api;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Api;

public sealed class ResponseBodyTests
{
    /// <summary>The large-object heap takes arrays of 85,000 bytes and more.</summary>
    private const int LargeObjectThreshold = 85_000;

    [Fact]
    public void Body_WrittenInPieces_ReadsBackInOrder_InChunksBelowTheLargeObjectThreshold()
    {
        var expected = new byte[1_000_003];
        new Random(7).NextBytes(expected);
        var body = new ResponseBody();
        var written = 0;
        var sizes = new[] { 1, 4096, 333, 70_000, 17 };
        for (var i = 0; written < expected.Length; i++)
        {
            var size = Math.Min(sizes[i % sizes.Length], expected.Length - written);
            var span = body.GetSpan(size);
            Assert.True(span.Length >= size, $"asked for {size} bytes, got {span.Length}");
            expected.AsSpan(written, size).CopyTo(span);
            body.Advance(size);
            written += size;
        }

        body.Complete();

        Assert.Equal(expected.Length, body.Length);
        Assert.All(body.Chunks, c => Assert.True(c.Length < LargeObjectThreshold, $"a chunk of {c.Length} bytes"));
        Assert.Equal(expected, body.Chunks.SelectMany(c => c.ToArray()).ToArray());
    }

    [Fact]
    public void SmallBody_KeepsOnlyItsOwnBytes()
    {
        var body = new ResponseBody();
        "[\"web\"]"u8.CopyTo(body.GetSpan(4096));
        body.Advance(7);
        body.Complete();

        var chunk = Assert.Single(body.Chunks);
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(chunk, out var array));
        Assert.Equal(7, array.Array!.Length);
    }

    [Fact]
    public void AdvancingPastWhatWasHandedOut_Throws()
    {
        var body = new ResponseBody();
        var handedOut = body.GetSpan(10).Length;
        Assert.Throws<ArgumentOutOfRangeException>(() => body.Advance(handedOut + 1));
        body.Complete();
        Assert.Throws<InvalidOperationException>(() => body.GetSpan(1));
    }

    [Fact]
    public async Task LargeListing_ArrivesWhole_WithItsLength_AndConsulsEscaping()
    {
        await using var server = await RunningServer.StartAsync();
        const int count = 400;
        var notes = "a+b's check, <here> " + new string('x', 200);
        for (var i = 0; i < count; i++)
            await server.PutOkAsync("/v1/agent/service/register",
                $$$"""{"ID":"big-{{{i}}}","Name":"big","Check":{"TTL":"60s","Notes":"{{{notes}}}"}}""");

        using var response = await server.Http.GetAsync("/v1/health/state/any");
        var bytes = await response.Content.ReadAsByteArrayAsync();

        Assert.True(bytes.Length > 2 * ResponseBody.ChunkSize, $"the listing is only {bytes.Length} bytes, one chunk");
        Assert.Equal(bytes.Length, response.Content.Headers.ContentLength);
        Assert.Equal("application/json; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        var checks = System.Text.Json.JsonDocument.Parse(bytes).RootElement;
        Assert.Equal(count, checks.EnumerateArray().Count(c => c.GetProperty("ServiceName").GetString() == "big"));
        Assert.All(checks.EnumerateArray().Where(c => c.GetProperty("ServiceName").GetString() == "big"),
            c => Assert.Equal(notes, c.GetProperty("Notes").GetString()));
        // Consul writes ' and + as themselves; so must a body serialized chunk by chunk.
        var text = Encoding.UTF8.GetString(bytes);
        Assert.Contains("a+b's check", text);
        Assert.DoesNotContain("\\u0027", text);
        Assert.Contains("<here>", text);
    }
}
