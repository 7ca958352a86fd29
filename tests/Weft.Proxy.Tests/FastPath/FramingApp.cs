using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.FastPath;

/// <summary>
/// An app that answers with each framing an HTTP/1.1 response can have (chunked, a HEAD's length without a body, 204,
/// 304, a large body), and the round of requests that checks a client gets each of them intact on one connection.
/// </summary>
internal static class FramingApp
{
    /// <summary>Requests per <see cref="CheckRoundAsync"/>.</summary>
    public const int RequestsPerRound = 5;

    /// <param name="big">The large body; sent with a <c>Content-Length</c> when <paramref name="bigWithLength"/>, else chunked by Kestrel.</param>
    public static Task<Backend> StartAsync(byte[] big, bool bigWithLength) => Backend.StartAsync(a =>
    {
        a.MapGet("/chunked", async c =>
        {
            for (var i = 0; i < 5; i++)
            {
                await c.Response.WriteAsync($"part{i};");
                await c.Response.Body.FlushAsync();
            }
        });
        a.MapGet("/big", c =>
        {
            if (bigWithLength)
                c.Response.ContentLength = big.Length;
            return c.Response.Body.WriteAsync(big).AsTask();
        });
        a.MapMethods("/head", ["HEAD"], c =>
        {
            c.Response.ContentLength = 1234;
            return Task.CompletedTask;
        });
        a.MapGet("/nocontent", c =>
        {
            c.Response.StatusCode = 204;
            return Task.CompletedTask;
        });
        a.MapGet("/notmodified", c =>
        {
            c.Response.StatusCode = 304;
            c.Response.Headers.ETag = "\"v1\"";
            return Task.CompletedTask;
        });
    });

    /// <summary>One request of each kind on <paramref name="raw"/>, to <paramref name="host"/>, each answer checked.</summary>
    public static async Task CheckRoundAsync(RawClient raw, string host, byte[] big, bool bigWithLength)
    {
        await raw.SendAsync($"GET /chunked HTTP/1.1\r\nHost: {host}\r\n\r\n");
        var chunked = await raw.ReadResponseAsync();
        Assert.Equal("chunked", chunked.Header("Transfer-Encoding"));
        Assert.Equal("part0;part1;part2;part3;part4;", chunked.Text);

        await raw.SendAsync($"HEAD /head HTTP/1.1\r\nHost: {host}\r\n\r\n");
        var head = await raw.ReadResponseAsync(headRequest: true);
        Assert.Equal(200, head.Status);
        Assert.Equal("1234", head.Header("Content-Length"));

        await raw.SendAsync($"GET /nocontent HTTP/1.1\r\nHost: {host}\r\n\r\n");
        Assert.Equal(204, (await raw.ReadResponseAsync()).Status);

        await raw.SendAsync($"GET /notmodified HTTP/1.1\r\nHost: {host}\r\n\r\n");
        var notModified = await raw.ReadResponseAsync();
        Assert.Equal(304, notModified.Status);
        Assert.Equal("\"v1\"", notModified.Header("ETag"));

        await raw.SendAsync($"GET /big HTTP/1.1\r\nHost: {host}\r\n\r\n");
        var large = await raw.ReadResponseAsync();
        if (bigWithLength)
            Assert.Equal(big.Length.ToString(CultureInfo.InvariantCulture), large.Header("Content-Length"));
        Assert.Equal(big, large.Body);
    }
}
