using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Serialization;

namespace Weft.Proxy.Security;

/// <summary>Where a sidecar gets its trust bundle and has its CSRs signed: the control plane's CA.</summary>
internal interface ICertificateAuthority
{
    /// <summary>The roots; with <paramref name="index"/> &gt; 0, a blocking query that returns once they change or <paramref name="wait"/> passes.</summary>
    Task<TrustBundle> RootsAsync(ulong index, TimeSpan wait, CancellationToken cancellationToken);

    /// <summary>Signs a CSR; returns the leaf PEM followed by its intermediates.</summary>
    Task<string> SignAsync(string csrPem, CancellationToken cancellationToken);
}

/// <summary>Refused or failed CA call; <see cref="Permanent"/> when asking again will not help (403, 400, 404).</summary>
internal sealed class CertificateAuthorityException(string message, bool permanent) : Exception(message)
{
    public bool Permanent { get; } = permanent;
}

/// <summary>The server's Consul-compatible CA endpoints: <c>GET /v1/connect/ca/roots</c> and <c>PUT /v1/connect/ca/sign</c>.</summary>
internal sealed class HttpCertificateAuthority : ICertificateAuthority, IDisposable
{
    private static readonly TimeSpan SignTimeout = TimeSpan.FromSeconds(10);
    private readonly HttpClient _http;

    public HttpCertificateAuthority(Uri server, string? token)
    {
        // No client-wide timeout: blocking queries last as long as their wait; each call sets its own.
        _http = new HttpClient { BaseAddress = server, Timeout = Timeout.InfiniteTimeSpan };
        if (!string.IsNullOrEmpty(token))
            _http.DefaultRequestHeaders.Add("X-Consul-Token", token);
    }

    public async Task<TrustBundle> RootsAsync(ulong index, TimeSpan wait, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter((index > 0 ? wait : TimeSpan.Zero) + SignTimeout);
        var path = index > 0 ? $"/v1/connect/ca/roots?index={index}&wait={(long)Math.Max(1, wait.TotalSeconds)}s" : "/v1/connect/ca/roots";
        using var response = await _http.GetAsync(path, timeout.Token);
        await EnsureAsync(response, "list the CA roots", timeout.Token);
        var body = await response.Content.ReadFromJsonAsync(CaJson.Default.CaRootsBody, timeout.Token)
            ?? throw new CertificateAuthorityException("the CA roots response is empty", permanent: false);
        var newIndex = response.Headers.TryGetValues("X-Consul-Index", out var values) && ulong.TryParse(values.FirstOrDefault(), out var i) ? i : 0;
        var roots = new List<X509Certificate2>();
        var intermediates = new List<X509Certificate2>();
        foreach (var root in body.Roots ?? [])
        {
            if (!string.IsNullOrEmpty(root.RootCert))
                roots.Add(X509Certificate2.CreateFromPem(root.RootCert));
            foreach (var pem in root.IntermediateCerts ?? [])
            {
                var collection = new X509Certificate2Collection();
                collection.ImportFromPem(pem);
                intermediates.AddRange(collection);
            }
        }

        if (roots.Count == 0 || string.IsNullOrEmpty(body.TrustDomain))
            throw new CertificateAuthorityException("the control plane lists no CA root (or no trust domain)", permanent: false);
        return new TrustBundle(body.TrustDomain, body.ActiveRootId ?? "", roots, intermediates, newIndex);
    }

    public async Task<string> SignAsync(string csrPem, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(SignTimeout);
        using var response = await _http.PutAsJsonAsync("/v1/connect/ca/sign", new SignRequestBody { Csr = csrPem }, CaJson.Default.SignRequestBody, timeout.Token);
        await EnsureAsync(response, "sign this sidecar's certificate", timeout.Token);
        var body = await response.Content.ReadFromJsonAsync(CaJson.Default.SignResponseBody, timeout.Token);
        return string.IsNullOrEmpty(body?.CertPem)
            ? throw new CertificateAuthorityException("the sign response has no CertPEM", permanent: false)
            : body.CertPem;
    }

    private static async Task EnsureAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
            return;
        var message = (await response.Content.ReadAsStringAsync(cancellationToken)).Trim();
        var permanent = response.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.BadRequest or HttpStatusCode.NotFound or HttpStatusCode.Unauthorized;
        throw new CertificateAuthorityException($"the control plane refused to {what}: {(int)response.StatusCode} {message}", permanent);
    }

    public void Dispose() => _http.Dispose();
}

internal sealed class CaRootsBody
{
    [JsonPropertyName("ActiveRootID")] public string? ActiveRootId { get; init; }
    public string? TrustDomain { get; init; }
    public List<CaRootBody>? Roots { get; init; }
}

internal sealed class CaRootBody
{
    [JsonPropertyName("ID")] public string? Id { get; init; }
    public string? RootCert { get; init; }
    public List<string>? IntermediateCerts { get; init; }
    public bool Active { get; init; }
}

internal sealed class SignRequestBody
{
    [JsonPropertyName("CSR")] public required string Csr { get; init; }
}

internal sealed class SignResponseBody
{
    public string? SerialNumber { get; init; }
    [JsonPropertyName("CertPEM")] public string? CertPem { get; init; }
    public string? Service { get; init; }
    public string? ServiceURI { get; init; }
}

[JsonSerializable(typeof(CaRootsBody))]
[JsonSerializable(typeof(SignRequestBody))]
[JsonSerializable(typeof(SignResponseBody))]
internal sealed partial class CaJson : JsonSerializerContext;
