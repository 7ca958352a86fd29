using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Weft.Proxy.Net;

namespace Weft.Proxy.Tests.Net;

/// <summary>A plain Kestrel app served over the epoll transport: what reaches a client is what Kestrel's sockets would give.</summary>
public sealed class EpollTransportTests
{
    private static async Task<(WebApplication App, Uri Address)> StartAsync(HttpProtocols protocols, X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IConnectionListenerFactory, EpollTransportFactory>();
        builder.WebHost.ConfigureKestrel(k => k.Listen(new EngineEndPoint(new IPEndPoint(IPAddress.Loopback, 0)), l =>
        {
            l.Protocols = protocols;
            if (certificate is not null)
                l.UseHttps(certificate);
        }));
        var app = builder.Build();
        app.Run(async c =>
        {
            if (c.Request.Path == "/span")
            {
                // A span without a size hint before the response started: Kestrel rents it from the transport's pool.
                var span = c.Response.BodyWriter.GetSpan();
                "from a span"u8.CopyTo(span);
                c.Response.BodyWriter.Advance(11);
                return;
            }

            // Which transport and connection served the request, and the body back.
            var transport = c.Features.Get<IInlineCompletionsFeature>() is null ? "sockets" : "epoll";
            c.Response.Headers["x-transport"] = transport;
            c.Response.Headers["x-connection"] = c.Connection.Id;
            c.Response.Headers["x-protocol"] = c.Request.Protocol;
            await c.Request.Body.CopyToAsync(c.Response.Body);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new Uri(address));
    }

    [Fact]
    public async Task Serves_HTTP11_keep_alive_requests_on_one_connection()
    {
        var (app, address) = await StartAsync(HttpProtocols.Http1);
        await using var _ = app;
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(20) };
        var connections = new HashSet<string>();
        for (var i = 0; i < 20; i++)
        {
            var body = new byte[i * 1000];
            Random.Shared.NextBytes(body);
            using var response = await client.PostAsync("/", new ByteArrayContent(body));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("epoll", Header(response, "x-transport"));
            Assert.Equal("HTTP/1.1", Header(response, "x-protocol"));
            Assert.Equal(body, await response.Content.ReadAsByteArrayAsync());
            connections.Add(Header(response, "x-connection"));
        }

        Assert.Single(connections);
        Assert.Equal("from a span", await client.GetStringAsync("/span"));

        // A big body both ways (the pipes' backpressure and the engine's).
        var big = new byte[4 << 20];
        Random.Shared.NextBytes(big);
        using var large = await client.PostAsync("/", new ByteArrayContent(big));
        Assert.Equal(big, await large.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Serves_h2c_streams_concurrently()
    {
        var (app, address) = await StartAsync(HttpProtocols.Http2);
        await using var _ = app;
        using var client = new HttpClient { BaseAddress = address, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact, Timeout = TimeSpan.FromSeconds(20) };
        var responses = await Task.WhenAll(Enumerable.Range(0, 32).Select(async i =>
        {
            using var response = await client.PostAsync("/", new StringContent($"stream {i}"));
            return (Header(response, "x-transport"), Header(response, "x-protocol"), await response.Content.ReadAsStringAsync());
        }));
        for (var i = 0; i < responses.Length; i++)
            Assert.Equal(("epoll", "HTTP/2", $"stream {i}"), responses[i]);
    }

    [Fact]
    public async Task Serves_TLS_with_HTTP2_by_ALPN()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        using var certificate = X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
        var (app, address) = await StartAsync(HttpProtocols.Http1AndHttp2, certificate);
        await using var _ = app;
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, c, _, _) => c?.GetCertHashString() == certificate.GetCertHashString() },
        };
        using var client = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{address.Port}"), DefaultRequestVersion = HttpVersion.Version20, Timeout = TimeSpan.FromSeconds(20) };
        for (var i = 0; i < 5; i++)
        {
            using var response = await client.PostAsync("/", new StringContent($"tls {i}"));
            Assert.Equal("epoll", Header(response, "x-transport"));
            Assert.Equal("HTTP/2", Header(response, "x-protocol"));
            Assert.Equal($"tls {i}", await response.Content.ReadAsStringAsync());
        }
    }

    /// <summary>A Kestrel listener on the transport whose connections run <paramref name="handler"/> (no HTTP).</summary>
    private static async Task<(WebApplication App, IPEndPoint Address)> StartRawAsync(Func<ConnectionContext, Task> handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IConnectionListenerFactory, EpollTransportFactory>();
        builder.WebHost.ConfigureKestrel(k => k.Listen(new EngineEndPoint(new IPEndPoint(IPAddress.Loopback, 0)), l => l.Run(handler)));
        var app = builder.Build();
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return (app, new IPEndPoint(IPAddress.Loopback, address.Port));
    }

    private static async Task<string> ReadToEndAsync(System.Net.Sockets.Socket socket)
    {
        var buffer = new byte[1024];
        var got = 0;
        int n;
        while ((n = await socket.ReceiveAsync(buffer.AsMemory(got)).AsTask().WaitAsync(TimeSpan.FromSeconds(20))) > 0)
            got += n;
        return System.Text.Encoding.ASCII.GetString(buffer, 0, got);
    }

    [Fact]
    public async Task A_clients_FIN_fires_ConnectionClosed_and_the_server_closes_with_a_FIN_after_its_output()
    {
        var (app, address) = await StartRawAsync(async connection =>
        {
            var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var _ = connection.ConnectionClosed.Register(closed.SetResult);
            await closed.Task;
            // The client's side ended; this one still sends, then ends the output: a FIN, after every byte.
            await connection.Transport.Output.WriteAsync(new byte[100_000]);
            await connection.Transport.Output.WriteAsync("closed seen"u8.ToArray());
            await connection.Transport.Output.CompleteAsync();
        });
        await using var _ = app;
        using var client = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await client.ConnectAsync(address);
        client.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        var buffer = new byte[200_000];
        var got = 0;
        int n;
        while ((n = await client.ReceiveAsync(buffer.AsMemory(got)).AsTask().WaitAsync(TimeSpan.FromSeconds(20))) > 0)
            got += n;
        Assert.Equal(100_011, got);
        Assert.Equal("closed seen", System.Text.Encoding.ASCII.GetString(buffer, 100_000, 11));
    }

    [Fact]
    public async Task Abort_resets_the_connection()
    {
        var (app, address) = await StartRawAsync(async connection =>
        {
            var result = await connection.Transport.Input.ReadAsync();
            connection.Transport.Input.AdvanceTo(result.Buffer.End);
            connection.Abort(new ConnectionAbortedException("test"));
        });
        await using var _ = app;
        using var client = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await client.ConnectAsync(address);
        await client.SendAsync("go"u8.ToArray());
        var e = await Assert.ThrowsAsync<System.Net.Sockets.SocketException>(() => ReadToEndAsync(client));
        Assert.Equal(System.Net.Sockets.SocketError.ConnectionReset, e.SocketErrorCode);
    }

    private static string Header(HttpResponseMessage response, string name) => response.Headers.GetValues(name).Single();
}
