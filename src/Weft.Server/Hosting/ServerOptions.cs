using System.Net;

namespace Weft.Server.Hosting;

/// <summary>Everything <c>weft server</c> is told on its command line, resolved to values.</summary>
internal sealed record ServerOptions
{
    public required string DataDir { get; init; }

    /// <summary>Where the HTTP API listens; port 0 picks a free one (tests).</summary>
    public IPEndPoint HttpEndpoint { get; init; } = new(IPAddress.Loopback, 8500);

    /// <summary>Where the proxy stream (gRPC, HTTP/2 without TLS) listens; port 0 picks a free one.</summary>
    public IPEndPoint GrpcEndpoint { get; init; } = new(IPAddress.Loopback, 8502);

    public string NodeName { get; init; } = Dns.GetHostName();
    public string Datacenter { get; init; } = "dc1";

    /// <summary>The token every call but <c>/v1/status/*</c> must carry; null only with <see cref="DevOpen"/>.</summary>
    public string? AclToken { get; init; }

    public bool DevOpen { get; init; }
    public bool EnableScriptChecks { get; init; }
    public Microsoft.Extensions.Logging.LogLevel LogLevel { get; init; } = Microsoft.Extensions.Logging.LogLevel.Information;
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The SPIFFE trust domain of the workload certificates the CA signs.</summary>
    public string TrustDomain { get; init; } = "weft.local";

    /// <summary>How long a workload certificate is valid (<c>--leaf-ttl</c>).</summary>
    public TimeSpan LeafTtl { get; init; } = TimeSpan.FromHours(24);

    /// <summary>The operator's CA certificate (with its chain up to the root) and key, PEM files; both or neither.</summary>
    public string? CaCertFile { get; init; }

    public string? CaKeyFile { get; init; }

    /// <summary>Largest request body accepted; larger ones get 413.</summary>
    public long MaxRequestBodyBytes { get; init; } = 1024 * 1024;
}
