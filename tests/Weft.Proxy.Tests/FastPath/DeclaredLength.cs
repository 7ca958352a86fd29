using System.Globalization;
using System.Net.Sockets;

namespace Weft.Proxy.Tests.FastPath;

/// <summary>
/// What an app must see on its own HTTP/1.1 connection when the upstream's response body disagrees with its
/// content-length (longer or shorter): never more body bytes than the head it got declared, a short body never as a
/// complete response, and no byte of the bad response in front of the next one (response desync).
/// </summary>
internal static class DeclaredLength
{
    /// <summary>
    /// Sends <paramref name="request"/> on <paramref name="app"/> and checks its answer: a 502 <c>upstream-reset</c>
    /// (nothing had reached the app yet), the connection cut before the response was complete, or — for a body longer
    /// than declared only — the head with the declared length and exactly the first <paramref name="declared"/> bytes
    /// of <paramref name="sent"/>. Returns whether the connection may still be open.
    /// </summary>
    public static async Task<bool> AssertFirstAsync(RawClient app, string request, int declared, string sent)
    {
        await app.SendAsync(request);
        RawResponse response;
        try
        {
            response = await app.ReadResponseAsync();
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            // Cut (within the read's deadline, not a hang) with nothing unread: no byte past what the head declared.
            Assert.Equal(0, app.Buffered);
            return false;
        }

        Assert.StartsWith("HTTP/1.1 ", response.StatusLine, StringComparison.Ordinal);
        if (response.Status == 502)
        {
            Assert.True(response.Header("x-weft-error") == "upstream-reset", $"{response.StatusLine} {string.Join("; ", response.Headers.Select(h => h.Key + ": " + h.Value))} [{response.Text}]");
            return true;
        }

        Assert.True(sent.Length > declared, $"a body shorter than its content-length reached the app as a complete {response.Status}: {response.Text}");
        Assert.Equal((200, declared.ToString(CultureInfo.InvariantCulture), sent[..declared]), (response.Status, response.Header("Content-Length"), response.Text));
        return true;
    }

    /// <summary>
    /// The app's next request gets <paramref name="expected"/>: on <paramref name="app"/> when it may be open and is
    /// (the response read there proves no byte of the bad one came before it), else on a new connection from
    /// <paramref name="reconnect"/>, once the old one is seen closed with nothing left unread.
    /// </summary>
    public static async Task AssertNextAsync(RawClient app, bool mayBeOpen, Func<Task<RawClient>> reconnect, string request, string expected)
    {
        if (mayBeOpen)
        {
            try
            {
                await app.SendAsync(request);
                var same = await app.ReadResponseAsync();
                Assert.Equal(("HTTP/1.1 200 OK", expected), (same.StatusLine, same.Text));
                return;
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                Assert.Equal(0, app.Buffered);
            }
        }

        using var fresh = await reconnect();
        await fresh.SendAsync(request);
        var response = await fresh.ReadResponseAsync();
        Assert.Equal(("HTTP/1.1 200 OK", expected), (response.StatusLine, response.Text));
    }
}
