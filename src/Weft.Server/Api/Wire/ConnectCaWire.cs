using System.Text.Json;
using System.Text.Json.Serialization;

namespace Weft.Server.Api.Wire;

/// <summary><c>GET /v1/connect/ca/roots</c>, Consul's <c>IndexedCARoots</c>.</summary>
internal sealed class CaRootListWire
{
    [JsonPropertyName("ActiveRootID")] public string ActiveRootId { get; init; } = "";
    public string TrustDomain { get; init; } = "";
    public List<CaRootWire> Roots { get; init; } = [];
}

/// <summary>One root, Consul's <c>CARoot</c> (private key material never leaves the server).</summary>
internal sealed class CaRootWire
{
    [JsonPropertyName("ID")] public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public ulong SerialNumber { get; init; }
    [JsonPropertyName("SigningKeyID")] public string SigningKeyId { get; init; } = "";
    public string ExternalTrustDomain { get; init; } = "";
    public DateTime NotBefore { get; init; }
    public DateTime NotAfter { get; init; }
    public string RootCert { get; init; } = "";
    public List<string> IntermediateCerts { get; init; } = [];
    public bool Active { get; init; }
    public string PrivateKeyType { get; init; } = "";
    public int PrivateKeyBits { get; init; }
    public ulong CreateIndex { get; init; }
    public ulong ModifyIndex { get; init; }
}

/// <summary><c>PUT /v1/connect/ca/sign</c>: a PKCS#10 request in PEM.</summary>
internal sealed class CaSignRequestWire
{
    [JsonPropertyName("CSR")] public string? Csr { get; init; }
}

/// <summary>The signed leaf, with Consul's <c>IssuedCert</c> field names (no private key: it never left the sidecar).</summary>
internal sealed class IssuedCertWire
{
    public string SerialNumber { get; init; } = "";
    [JsonPropertyName("CertPEM")] public string CertPem { get; init; } = "";
    public string Service { get; init; } = "";
    [JsonPropertyName("ServiceURI")] public string ServiceUri { get; init; } = "";
    public DateTime ValidAfter { get; init; }
    public DateTime ValidBefore { get; init; }
    public ulong CreateIndex { get; init; }
    public ulong ModifyIndex { get; init; }
}

/// <summary><c>GET /v1/connect/ca/configuration</c>, Consul's <c>CAConfiguration</c>.</summary>
internal sealed class CaConfigurationWire
{
    public string Provider { get; init; } = "weft";
    public CaProviderConfigWire Config { get; init; } = new();
    public bool ForceWithoutCrossSigning { get; init; }
    public ulong CreateIndex { get; init; }
    public ulong ModifyIndex { get; init; }
}

internal sealed class CaProviderConfigWire
{
    [JsonPropertyName("LeafCertTTL")] public string LeafCertTtl { get; init; } = "";
    [JsonPropertyName("RootCertTTL")] public string RootCertTtl { get; init; } = "";
    public string PrivateKeyType { get; init; } = "";
    public int PrivateKeyBits { get; init; }
    public string TrustDomain { get; init; } = "";

    /// <summary>Weft's own: "generated" or "operator".</summary>
    public string RootSource { get; init; } = "";
}

/// <summary><c>PUT /v1/connect/ca/configuration</c>: Consul's body; <c>Config</c> is read key by key.</summary>
internal sealed class CaConfigurationRequest
{
    public string? Provider { get; init; }
    public Dictionary<string, JsonElement>? Config { get; init; }
    public bool ForceWithoutCrossSigning { get; init; }
}

[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true)]
[JsonSerializable(typeof(CaRootListWire))]
[JsonSerializable(typeof(CaSignRequestWire))]
[JsonSerializable(typeof(IssuedCertWire))]
[JsonSerializable(typeof(CaConfigurationWire))]
[JsonSerializable(typeof(CaConfigurationRequest))]
internal sealed partial class CaJson : JsonSerializerContext
{
    /// <summary>As Consul writes: characters such as + and ' as themselves (PEM is full of +).</summary>
    public static CaJson Api { get; } = new(new JsonSerializerOptions
    {
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
