using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Weft.Core.Catalog;
using Weft.Core.Text;
using Weft.Server.Acl;
using Weft.Server.Api.Wire;
using Weft.Server.Ca;
using Weft.Server.Catalog;

namespace Weft.Server.Api;

/// <summary>
/// <c>/v1/connect/ca/*</c>: the certificate authority, Consul's paths and shapes — roots (with blocking queries, so
/// sidecars learn of a rotation at once), configuration (a PUT rotates the root) — and <c>sign</c>, where a sidecar
/// sends a CSR for its own service and gets its certificate; its private key never leaves it.
/// </summary>
internal static class ConnectCaApi
{
    private const string Json = "application/json; charset=utf-8";

    public static void MapConnectCaApi(this IEndpointRouteBuilder app)
    {
        var ca = app.MapGroup("/v1/connect/ca");
        ca.MapGet("/roots", Roots);
        ca.MapGet("/configuration", GetConfiguration);
        ca.MapPut("/configuration", SetConfiguration);
        ca.MapPut("/sign", Sign);
    }

    private static async Task<IResult> Roots(HttpContext http, BlockingQuery blocking, CertificateAuthority ca)
    {
        var pem = Flag(http.Request, "pem");
        var state = await blocking.WaitAsync(http, Topics.CaRoots);
        var roots = state.CaRoots.Values.OrderByDescending(r => r.Active).ThenBy(r => r.CreateIndex).ToList();
        if (pem)
        {
            // Consul's application/pem-certificate-chain: the trust bundle, one root after another.
            var bundle = string.Concat(roots.Select(r => r.RootCert.TrimEnd() + "\n"));
            return TypedResults.Text(bundle, "application/pem-certificate-chain", Encoding.ASCII);
        }

        var body = new CaRootListWire
        {
            ActiveRootId = state.ActiveCaRoot?.Id ?? "",
            TrustDomain = ca.TrustDomain,
            Roots = [.. roots.Select(r => new CaRootWire
            {
                Id = r.Id,
                Name = r.Name,
                SerialNumber = r.SerialNumber,
                SigningKeyId = r.SigningKeyId,
                ExternalTrustDomain = ca.TrustDomain,
                NotBefore = r.NotBefore.UtcDateTime,
                NotAfter = r.NotAfter.UtcDateTime,
                RootCert = r.RootCert,
                IntermediateCerts = [.. r.IntermediateCerts],
                Active = r.Active,
                PrivateKeyType = r.PrivateKeyType,
                PrivateKeyBits = r.PrivateKeyBits,
                CreateIndex = r.CreateIndex,
                ModifyIndex = r.ModifyIndex,
            })],
        };
        return TypedResults.Bytes(JsonSerializer.SerializeToUtf8Bytes(body, CaJson.Api.CaRootListWire), Json);
    }

    private static async Task<IResult> GetConfiguration(HttpContext http, BlockingQuery blocking, CertificateAuthority ca)
    {
        var state = await blocking.WaitAsync(http, Topics.CaRoots);
        var active = state.ActiveCaRoot;
        var body = new CaConfigurationWire
        {
            Provider = ProviderName,
            Config = new CaProviderConfigWire
            {
                LeafCertTtl = GoDuration.Format(ca.LeafTtl),
                RootCertTtl = GoDuration.Format(CaCertificates.RootTtl),
                PrivateKeyType = active?.PrivateKeyType ?? "ec",
                PrivateKeyBits = active?.PrivateKeyBits ?? 256,
                TrustDomain = ca.TrustDomain,
                RootSource = active?.Source ?? "generated",
            },
            CreateIndex = state.CaRoots.Values.Select(r => r.CreateIndex).DefaultIfEmpty(1UL).Min(),
            ModifyIndex = state.TopicIndex(Topics.CaRoots),
        };
        return TypedResults.Bytes(JsonSerializer.SerializeToUtf8Bytes(body, CaJson.Api.CaConfigurationWire), Json);
    }

    public const string ProviderName = "weft";

    /// <summary>
    /// Consul's way to change the CA: <c>{"Provider":"weft","Config":{"RotateRoot":true}}</c> makes a new root;
    /// <c>Config.PrivateKey</c> + <c>Config.RootCert</c> (PEM) switch to the operator's root or intermediate. Either
    /// way the old root cross-signs the new one unless <c>ForceWithoutCrossSigning</c>. Management token only.
    /// </summary>
    private static async Task<IResult> SetConfiguration(HttpContext http, CertificateAuthority ca, CatalogStore catalog, TimeProvider time)
    {
        AclIdentity.Of(http).Management("operator:write");
        var request = await RequestBody.ReadAsync(http.Request, CaJson.Api.CaConfigurationRequest);
        if (request.Provider is { Length: > 0 } provider && provider != ProviderName && provider != "consul")
            throw ApiException.BadRequest($"Provider \"{provider}\" is not supported: this server's CA provider is \"{ProviderName}\"");

        var rotate = false;
        string? privateKey = null, rootCert = null;
        var active = catalog.Current.ActiveCaRoot;
        foreach (var (key, value) in request.Config ?? [])
        {
            switch (key)
            {
                case "RotateRoot":
                    rotate = value.ValueKind switch
                    {
                        JsonValueKind.True => true,
                        JsonValueKind.False => false,
                        _ => throw ApiException.BadRequest("Config.RotateRoot must be true or false"),
                    };
                    break;
                case "PrivateKey":
                    privateKey = Text(key, value);
                    break;
                case "RootCert":
                    rootCert = Text(key, value);
                    break;
                case "LeafCertTTL":
                    Unchanged(key, value, GoDuration.Format(ca.LeafTtl), "weft server's --leaf-ttl", duration: true);
                    break;
                case "RootCertTTL":
                    Unchanged(key, value, GoDuration.Format(CaCertificates.RootTtl), "fixed for generated roots", duration: true);
                    break;
                case "TrustDomain":
                    Unchanged(key, value, ca.TrustDomain, "weft server's --trust-domain");
                    break;
                case "PrivateKeyType":
                    Unchanged(key, value, active?.PrivateKeyType ?? "ec", "ec for generated roots; an operator root's own");
                    break;
                case "PrivateKeyBits":
                    Unchanged(key, value, (active?.PrivateKeyBits ?? 256).ToString(System.Globalization.CultureInfo.InvariantCulture), "256 for generated roots; an operator root's own");
                    break;
                case "RootSource":
                    break;
                default:
                    throw ApiException.BadRequest($"Config.{key} is not a setting of the weft CA provider (RotateRoot, PrivateKey, RootCert; LeafCertTTL, RootCertTTL, TrustDomain, PrivateKeyType, PrivateKeyBits are read-only)");
            }
        }

        if (privateKey is null != rootCert is null)
            throw ApiException.BadRequest("Config.PrivateKey and Config.RootCert go together: give both (PEM) or neither");
        if (rotate && privateKey is not null)
            throw ApiException.BadRequest("Config.RotateRoot generates a new root; with Config.PrivateKey and Config.RootCert the root is yours: give one or the other");

        OperatorCa? supplied = null;
        if (privateKey is not null)
        {
            try
            {
                supplied = OperatorCa.FromPem(rootCert!, privateKey, time.GetUtcNow(), "Config.RootCert", "Config.PrivateKey");
            }
            catch (CaConfigException e)
            {
                throw ApiException.BadRequest(e.Message);
            }
        }

        if (rotate || supplied is not null)
            await ca.RotateAsync(supplied, crossSign: !request.ForceWithoutCrossSigning);
        BlockingQuery.SetHeaders(http.Response, catalog.Current.TopicIndex(Topics.CaRoots));
        return TypedResults.Ok();
    }

    /// <summary>
    /// Weft's signing endpoint (Consul signs inside its agents): a CSR in, the leaf and the chain to the roots out.
    /// The token must be allowed to act for the service the CSR names.
    /// </summary>
    private static async Task<IResult> Sign(HttpContext http, CertificateAuthority ca)
    {
        var body = await RequestBody.ReadAsync(http.Request, CaJson.Api.CaSignRequestWire);
        if (!SigningRequest.TryParse(body.Csr, ca.TrustDomain, out var request, out var error))
            throw ApiException.BadRequest(error);
        AclIdentity.Of(http).ServiceWrite(request!.Identity.Service);

        IssuedCertificate issued;
        try
        {
            issued = ca.Sign(request);
        }
        catch (CaUnavailableException e)
        {
            throw new ApiException(StatusCodes.Status503ServiceUnavailable, e.Message);
        }

        BlockingQuery.SetHeaders(http.Response, issued.Index);
        var wire = new IssuedCertWire
        {
            SerialNumber = issued.SerialNumber,
            CertPem = issued.CertPem,
            Service = issued.Service,
            ServiceUri = issued.ServiceUri,
            ValidAfter = issued.ValidAfter,
            ValidBefore = issued.ValidBefore,
            CreateIndex = issued.Index,
            ModifyIndex = issued.Index,
        };
        return TypedResults.Bytes(JsonSerializer.SerializeToUtf8Bytes(wire, CaJson.Api.IssuedCertWire), Json);
    }

    private static bool Flag(HttpRequest request, string name)
    {
        if (!request.Query.TryGetValue(name, out var values)) return false;
        return values.ToString().ToLowerInvariant() switch
        {
            "" or "true" or "1" => true,
            "false" or "0" => false,
            var other => throw ApiException.BadRequest($"Invalid ?{name}=\"{other}\": must be true or false"),
        };
    }

    private static string Text(string key, JsonElement value) =>
        value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text
            ? text
            : throw ApiException.BadRequest($"Config.{key} must be a non-empty string (PEM)");

    private static void Unchanged(string key, JsonElement value, string current, string owner, bool duration = false)
    {
        var given = value.ValueKind switch
        {
            JsonValueKind.String => value.GetString()!,
            JsonValueKind.Number => value.GetRawText(),
            _ => throw ApiException.BadRequest($"Config.{key} must be a string or a number"),
        };
        var same = duration
            ? GoDuration.TryParse(given, out var a, out _) && GoDuration.TryParse(current, out var b, out _) && a == b
            : string.Equals(given, current, StringComparison.OrdinalIgnoreCase);
        if (!same)
            throw ApiException.BadRequest($"Config.{key} cannot be changed through the API: it is {owner} (now {current})");
    }
}
