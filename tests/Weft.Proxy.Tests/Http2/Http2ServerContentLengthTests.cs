using System.Text;
using Microsoft.AspNetCore.Http;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// The own server holds a response body to the Content-Length its handler set, as Kestrel does (RFC 9113 8.1.1): the
/// client never gets more DATA than declared, nor a short body ended as complete; a HEAD's or a 304's length describes
/// no body and is not held.
/// </summary>
public sealed class Http2ServerContentLengthTests
{
    [Fact]
    public async Task WritePastTheContentLength_Throws_AndNothingOfItIsSent()
    {
        Exception? thrown = null;
        await using var server = await OwnServer.StartAsync(async c =>
        {
            c.Response.ContentLength = 5;
            try
            {
                await c.Response.Body.WriteAsync("helloHTTP/1"u8.ToArray());
            }
            catch (InvalidOperationException e)
            {
                thrown = e;
                throw;
            }
        });
        await using var raw = await RawH2Client.ConnectAsync(server.Address, marked: false);

        await raw.GetAsync(1, "/");
        var (status, body, _) = await raw.ReadResponseAsync(1);

        // Nothing had been sent: the handler's failure is a 500, as on Kestrel.
        Assert.Equal((500, ""), (status, Encoding.ASCII.GetString(body)));
        Assert.Contains("too many bytes written (11 of 5)", thrown?.Message);
    }

    [Fact]
    public async Task ResponseShortOfItsContentLength_IsReset_NotEndedAsComplete()
    {
        await using var server = await OwnServer.StartAsync(async c =>
        {
            if (c.Request.Path == "/short")
                c.Response.ContentLength = 11;
            await c.Response.Body.WriteAsync("hello"u8.ToArray());
            await c.Response.Body.FlushAsync();
        });
        await using var raw = await RawH2Client.ConnectAsync(server.Address, marked: false);

        await raw.GetAsync(1, "/short");

        var e = await Assert.ThrowsAsync<IOException>(() => raw.ReadResponseAsync(1));
        Assert.Contains("reset with InternalError", e.Message);
        // Only the stream: the connection serves on.
        await raw.GetAsync(3, "/whole");
        var (status, body, _) = await raw.ReadResponseAsync(3);
        Assert.Equal((200, "hello"), (status, Encoding.ASCII.GetString(body)));
    }

    [Theory]
    [InlineData("HEAD", 200)]
    [InlineData("GET", 304)]
    public async Task ContentLengthThatDescribesNoBody_IsNotHeld(string method, int status)
    {
        await using var server = await OwnServer.StartAsync(c =>
        {
            c.Response.StatusCode = status;
            c.Response.ContentLength = 1234;
            return Task.CompletedTask;
        });
        await using var raw = await RawH2Client.ConnectAsync(server.Address, marked: false);

        await raw.SendHeadersAsync(1, endStream: true, (":method", method), (":scheme", "http"), (":authority", "orders"), (":path", "/"));
        var (got, body, headers) = await raw.ReadResponseAsync(1);

        Assert.Equal((status, 0, "1234"), (got, body.Length, headers.GetValueOrDefault("content-length")));
    }
}
