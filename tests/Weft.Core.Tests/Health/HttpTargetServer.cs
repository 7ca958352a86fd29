using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Weft.Core.Tests.Health;

/// <summary>
/// A real Kestrel server on two loopback ports, plain HTTP and HTTPS with a self-signed certificate for
/// <see cref="TlsName"/>, answering the way services under check do.
/// </summary>
public sealed class HttpTargetServer : IAsyncLifetime
{
    public const string OkBody = "all good";
    public const string FailBody = "database down";
    public const string TlsName = "weft.test";

    private WebApplication? _app;
    private volatile string _lastServerName = "";

    public string BaseUrl { get; private set; } = "";

    public string HttpsBaseUrl { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var certificate = CreateSelfSignedCertificate();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(new HttpsConnectionAdapterOptions
            {
                // Called with the client's SNI; the connection-level record of what a probe sent.
                ServerCertificateSelector = (_, serverName) =>
                {
                    _lastServerName = serverName ?? "";
                    return certificate;
                },
            }));
        });
        _app = builder.Build();
        _app.MapGet("/ok", () => OkBody);
        _app.MapGet("/busy", () => Results.Text("slow down", statusCode: 429));
        _app.MapGet("/fail", () => Results.Text(FailBody, statusCode: 500));
        _app.MapGet("/moved", () => Results.Redirect("/ok"));
        _app.MapGet("/big", () => new string('a', 4096) + new string('b', 4096));
        _app.MapGet("/slow", async (HttpContext context) =>
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
            return "never";
        });
        _app.MapGet("/sni", () => _lastServerName);
        _app.Map("/echo", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var headers = context.Request.Headers;
            return $"{context.Request.Method}|{headers.UserAgent}|{headers.Accept}|{headers["X-Multi"]}|{headers.ContentType}|{body}";
        });
        await _app.StartAsync();
        var addresses = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        BaseUrl = addresses.Single(a => a.StartsWith("http:", StringComparison.Ordinal));
        HttpsBaseUrl = addresses.Single(a => a.StartsWith("https:", StringComparison.Ordinal));
    }

    private static X509Certificate2 CreateSelfSignedCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={TlsName}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(TlsName);
        request.CertificateExtensions.Add(names.Build());
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
            await _app.DisposeAsync();
    }
}
