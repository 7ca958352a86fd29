using System.Net;
using Microsoft.Extensions.Time.Testing;
using Weft.Proxy.FastPath;
using Weft.Proxy.Hosting;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.FastPath;

/// <summary>
/// The raw HTTP/1.1 client's idle limit on the inbound leg (caller → server sidecar → app): an app that takes a request
/// and never answers is given up on after <see cref="RawHttp1Client.ActivityTimeout"/> of silence (found by the
/// client's sweep, on the sidecar's clock), and the caller gets a 504 rather than waiting for good.
/// </summary>
public sealed class AppExchangeActivityTimeoutTests
{
    [Fact]
    public async Task AppThatNeverAnswers_IsGivenUpOnAfterTheActivityTimeout_WithA504()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = new RawUpstream(
            head => head.Contains("/silent", StringComparison.Ordinal) ? ([], false) : ("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine"u8.ToArray(), false),
            stall: head => head.Contains("/silent", StringComparison.Ordinal));
        await using var proxy = await ProxyHost.StartAsync(Mesh.Options("orders", app.Address) with { Time = time });
        Assert.True(proxy.ConfigSink.Apply(Mesh.Snapshot(1, [])).Applied);
        using var client = await RawClient.ConnectAsync(proxy.InboundAddress);
        await client.SendAsync("GET /silent HTTP/1.1\r\nHost: orders\r\n\r\n");
        var response = client.ReadResponseAsync();
        // The exchange is in flight once the app holds the request.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (proxy.AppClient!.Requests == 0 || app.Connections == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the request never reached the app");
            await Task.Delay(10);
        }

        // Minute by minute on the sidecar's clock: no answer before the timeout, one within a sweep after it.
        var advanced = TimeSpan.Zero;
        while (!await Completes(response, advanced < RawHttp1Client.ActivityTimeout ? TimeSpan.FromMilliseconds(50) : TimeSpan.FromSeconds(5)))
        {
            Assert.True(advanced <= RawHttp1Client.ActivityTimeout + RawHttp1Client.ActivitySweep, $"no answer {advanced} after the request");
            time.Advance(TimeSpan.FromSeconds(30));
            advanced += TimeSpan.FromSeconds(30);
        }

        Assert.True(advanced >= RawHttp1Client.ActivityTimeout, $"given up on after {advanced}");
        var answer = await response;
        Assert.Equal(504, answer.Status);
        Assert.Equal("per-try-timeout", answer.Header("x-weft-error"));
        Assert.Contains("for 15 min (the idle limit of an exchange)", answer.Text);

        // The sidecar serves on.
        using var next = await RawClient.ConnectAsync(proxy.InboundAddress);
        await next.SendAsync("GET /other HTTP/1.1\r\nHost: orders\r\n\r\n");
        var fine = await next.ReadResponseAsync();
        Assert.Equal((200, "fine"), (fine.Status, fine.Text));
    }

    private static async Task<bool> Completes(Task task, TimeSpan within)
    {
        try
        {
            await task.WaitAsync(within);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }
}
