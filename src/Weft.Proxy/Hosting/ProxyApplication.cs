using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Abstractions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Weft.Proxy.Hosting;

/// <summary>
/// What Kestrel runs for every request of the sidecar: one handler on a <see cref="DefaultHttpContext"/> that Kestrel keeps
/// per connection and reuses, as ASP.NET's hosting does, minus what the sidecar never reads (a DI scope for
/// <c>RequestServices</c>, a logging scope, the hosting diagnostics).
/// </summary>
internal sealed class ProxyApplication(RequestDelegate handler) : IHttpApplication<HttpContext>
{
    public HttpContext CreateContext(IFeatureCollection contextFeatures)
    {
        if (contextFeatures is not IHostContextContainer<HttpContext> container)
            return new DefaultHttpContext(contextFeatures);
        if (container.HostContext is DefaultHttpContext reused)
        {
            reused.Initialize(contextFeatures);
            return reused;
        }

        var created = new DefaultHttpContext(contextFeatures);
        container.HostContext = created;
        return created;
    }

    public Task ProcessRequestAsync(HttpContext context) => handler(context);

    public void DisposeContext(HttpContext context, Exception? exception)
    {
        if (context is DefaultHttpContext http)
            http.Uninitialize();
    }
}

/// <summary>
/// Lets Kestrel register itself (<c>UseKestrelCore</c>, <c>ConfigureKestrel</c>: its server, transport, options and the
/// internal services <c>UseHttps</c> looks up) into a plain <see cref="IServiceCollection"/>, so the sidecar runs
/// Kestrel without a host. Only <see cref="ConfigureServices(Action{IServiceCollection})"/> is used by those calls.
/// </summary>
internal sealed class KestrelServices(IServiceCollection services) : IWebHostBuilder
{
    public IWebHostBuilder ConfigureServices(Action<IServiceCollection> configureServices)
    {
        configureServices(services);
        return this;
    }

    public IWebHostBuilder ConfigureServices(Action<WebHostBuilderContext, IServiceCollection> configureServices) =>
        throw new NotSupportedException("the sidecar's Kestrel has no host context");

    public IWebHostBuilder ConfigureAppConfiguration(Action<WebHostBuilderContext, IConfigurationBuilder> configureDelegate) =>
        throw new NotSupportedException("the sidecar's Kestrel has no configuration");

    public string? GetSetting(string key) => null;

    public IWebHostBuilder UseSetting(string key, string? value) => this;

    // IWebHostBuilder still declares Build() as returning the obsolete IWebHost; it is never called here.
#pragma warning disable ASPDEPR008
    public IWebHost Build() => throw new NotSupportedException("the sidecar starts its Kestrel server itself");
#pragma warning restore ASPDEPR008
}
