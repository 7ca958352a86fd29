using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Proxy.Hosting;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Http2;

/// <summary>
/// Real HTTP/2 clients of other makers against the own HTTP/2 server, as an app reaches it: h2c with prior knowledge
/// to the sidecar's outbound listener, on to an HTTP/1.1 service. <c>nghttp</c> (Debian's nghttp2-client, which CI
/// installs) and <c>curl --http2-prior-knowledge</c>: a GET and a 1 MiB POST echoed back; with nghttp, 100 concurrent
/// streams on one connection too.
/// </summary>
public sealed class Http2ServerInteropTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("weft-h2-interop-");
    private Backend? _app;
    private ProxyHost? _proxy;

    private ProxyHost Proxy => _proxy!;

    private string Origin => $"http://127.0.0.1:{Proxy.OutboundAddress.Port}";

    public async Task InitializeAsync()
    {
        _app = await Backend.StartAsync(a =>
        {
            a.MapGet("/hello", () => "hello from orders\n");
            a.MapGet("/item/{i:int}", (int i) => $"item {i}\n");
            a.MapPost("/echo", async (HttpContext c) =>
            {
                using var body = new MemoryStream();
                await c.Request.Body.CopyToAsync(body);
                await c.Response.Body.WriteAsync(body.ToArray());
            });
        });
        _proxy = await ProxyHost.StartAsync(Mesh.Options("frontend", Mesh.NoApp) with { FastH2Server = true });
        Assert.True(_proxy.ConfigSink.Apply(Mesh.Snapshot(1, [("orders", [Mesh.Endpoint("o1", _app.Address)])])).Applied);
    }

    public async Task DisposeAsync()
    {
        if (_proxy is not null)
            await _proxy.DisposeAsync();
        if (_app is not null)
            await _app.DisposeAsync();
        _dir.Delete(recursive: true);
    }

    /// <summary>A 1 MiB (and a bit) request body in a file, for the clients to send.</summary>
    private async Task<(string Path, byte[] Bytes)> PayloadAsync()
    {
        var bytes = new byte[1024 * 1024 + 17];
        new Random(11).NextBytes(bytes);
        var path = Path.Combine(_dir.FullName, "payload.bin");
        await File.WriteAllBytesAsync(path, bytes);
        return (path, bytes);
    }

    [Fact]
    public async Task Nghttp_Get_PostOf1MiB_And100ConcurrentStreamsOnOneConnection()
    {
        var har = Path.Combine(_dir.FullName, "get.har");
        var get = await RunAsync("nghttp", ["-H", ":authority: orders", $"--har={har}", $"{Origin}/hello"]);
        Assert.Equal("hello from orders\n", Encoding.ASCII.GetString(get));
        Assert.Equal([200], await StatusesAsync(har));

        var (payload, bytes) = await PayloadAsync();
        har = Path.Combine(_dir.FullName, "post.har");
        var post = await RunAsync("nghttp", ["-H", ":authority: orders", "-d", payload, $"--har={har}", $"{Origin}/echo"]);
        Assert.Equal(bytes, post);
        Assert.Equal([200], await StatusesAsync(har));

        // 20 paths, each asked 5 times: 100 streams at once on one connection (our SETTINGS_MAX_CONCURRENT_STREAMS).
        var connections = Proxy.Metrics.OwnH2!.AppServed;
        har = Path.Combine(_dir.FullName, "many.har");
        var many = await RunAsync("nghttp", ["-H", ":authority: orders", "-m", "5", $"--har={har}", .. Enumerable.Range(0, 20).Select(i => $"{Origin}/item/{i}")]);
        var lines = Encoding.ASCII.GetString(many).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Enumerable.Range(0, 20).SelectMany(i => Enumerable.Repeat($"item {i}", 5)).Order(), lines.Order());
        Assert.Equal(Enumerable.Repeat(200, 100), await StatusesAsync(har));
        Assert.Equal(connections + 1, Proxy.Metrics.OwnH2.AppServed);
    }

    /// <remarks>
    /// One URL per curl: Debian 12's curl 7.88 fails every transfer after the first on a reused prior-knowledge
    /// connection ("Error in the HTTP2 framing layer", curl/curl#10634, fixed in 8.0), against Kestrel's server as much
    /// as ours; the many streams on one connection are nghttp's test.
    /// </remarks>
    [Fact]
    public async Task Curl_Get_AndPostOf1MiB()
    {
        string[] h2c = ["-sS", "--http2-prior-knowledge", "--connect-to", $"orders:80:127.0.0.1:{Proxy.OutboundAddress.Port}"];
        var get = await RunAsync("curl", [.. h2c, "-w", "%{http_code} HTTP/%{http_version}", "http://orders/hello"]);
        Assert.Equal("hello from orders\n200 HTTP/2", Encoding.ASCII.GetString(get));

        var (payload, bytes) = await PayloadAsync();
        var echoed = Path.Combine(_dir.FullName, "echoed.bin");
        var post = await RunAsync("curl", [.. h2c, "--data-binary", "@" + payload, "-o", echoed, "-w", "%{http_code} HTTP/%{http_version}", "http://orders/echo"]);
        Assert.Equal("200 HTTP/2", Encoding.ASCII.GetString(post));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(echoed));
        Assert.Equal(2, Proxy.Metrics.OwnH2!.AppServed); // both on weft's own server
    }

    /// <summary>The response statuses nghttp recorded in its HAR file, in order.</summary>
    private static async Task<List<int>> StatusesAsync(string har)
    {
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(har));
        return [.. json.RootElement.GetProperty("log").GetProperty("entries").EnumerateArray()
            .Select(e => e.GetProperty("response").GetProperty("status").GetInt32())];
    }

    /// <summary>Runs <paramref name="tool"/> to its end (bounded) and returns its stdout; a failure exit fails the test with its stderr.</summary>
    private static async Task<byte[]> RunAsync(string tool, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (Win32Exception e)
        {
            Assert.Fail($"'{tool}' was not found ({e.Message}): install it (Debian: apt-get install nghttp2-client curl); CI does (.ci/run).");
            throw;
        }

        using (process)
        {
            using var stdout = new MemoryStream();
            var copy = process.StandardOutput.BaseStream.CopyToAsync(stdout);
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(Deadline);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"{tool} did not finish within {Deadline.TotalSeconds} s");
            }

            await copy;
            Assert.True(process.ExitCode == 0, $"{tool} exited with {process.ExitCode}: {await stderr}");
            return stdout.ToArray();
        }
    }
}
