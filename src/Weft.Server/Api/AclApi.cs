using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Weft.Server.Acl;
using Weft.Server.Api.Wire;
using Weft.Server.Mesh;

namespace Weft.Server.Api;

/// <summary>
/// <c>/v1/acl/token*</c>: Consul's token endpoints for Weft's service tokens. Only the management token may manage
/// tokens; any token may read itself. Weft keeps only a hash of each SecretID, so the SecretID is in the answer to
/// the create and nowhere else. Updating a token (<c>PUT /v1/acl/token/{id}</c>) is not supported: create a new one.
/// </summary>
internal static partial class AclApi
{
    private const int MaxDescriptionLength = 1024;
    private const string GlobalManagementPolicyId = "00000000-0000-0000-0000-000000000001";

    public static void MapAclApi(this IEndpointRouteBuilder app)
    {
        var acl = app.MapGroup("/v1/acl");
        acl.MapPut("/token", Create);
        acl.MapGet("/token/self", Self);
        acl.MapGet("/token/{accessorId}", Read);
        acl.MapDelete("/token/{accessorId}", Delete);
        acl.MapGet("/tokens", List);
    }

    private static async Task<IResult> Create(HttpContext http, AclTokens tokens)
    {
        Require(http, tokens, "acl:write");
        var body = await RequestBody.ReadAsync(http.Request, ConsulJson.Api.AclTokenRequest);
        var service = ServiceOf(body);
        var description = body.Description ?? "";
        if (description.Length > MaxDescriptionLength)
            throw ApiException.BadRequest($"Invalid Description: longer than {MaxDescriptionLength} characters");
        var accessor = Uuid(body.AccessorId, "AccessorID");
        var secret = Uuid(body.SecretId, "SecretID");

        try
        {
            var (token, secretId) = await tokens.CreateAsync(service, description, body.Local ?? false, accessor, secret, http.RequestAborted);
            return TypedResults.Json(ToWire(token, secretId), ConsulJson.Api.AclTokenWire);
        }
        catch (AclConflictException e)
        {
            throw ApiException.BadRequest(e.Message);
        }
    }

    private static IResult Self(HttpContext http, AclTokens tokens)
    {
        Enabled(tokens);
        var identity = AclIdentity.Of(http);
        if (identity.IsManagement) return TypedResults.Json(Management(tokens), ConsulJson.Api.AclTokenWire);
        var token = tokens.Find(identity.AccessorId) ?? throw ApiException.Forbidden("ACL not found");
        return TypedResults.Json(ToWire(token, null), ConsulJson.Api.AclTokenWire);
    }

    private static IResult Read(string accessorId, HttpContext http, AclTokens tokens)
    {
        Require(http, tokens, "acl:read");
        if (accessorId == AclIdentity.ManagementAccessorId) return TypedResults.Json(Management(tokens), ConsulJson.Api.AclTokenWire);
        var token = tokens.Find(accessorId) ?? throw ApiException.NotFound("ACL not found");
        return TypedResults.Json(ToWire(token, null), ConsulJson.Api.AclTokenWire);
    }

    private static async Task<IResult> Delete(string accessorId, HttpContext http, AclTokens tokens, ProxySessions sessions)
    {
        Require(http, tokens, "acl:write");
        if (accessorId == AclIdentity.ManagementAccessorId)
            throw ApiException.BadRequest("Cannot delete the management token: it is the server's own (--acl-token-file, WEFT_ACL_TOKEN or the data dir); replace it there and restart");
        if (!await tokens.DeleteAsync(accessorId, http.RequestAborted))
            throw ApiException.NotFound($"Cannot find token to delete: no token with AccessorID \"{accessorId}\"");
        // Streams opened with the token end now; their sidecars are refused when they reconnect with it.
        sessions.CloseAllOf(accessorId);
        return TypedResults.Json(true, ConsulJson.Api.Boolean);
    }

    private static IResult List(HttpContext http, AclTokens tokens)
    {
        Require(http, tokens, "acl:read");
        var list = new List<AclTokenWire> { Management(tokens) };
        list.AddRange(tokens.All.Select(t => ToWire(t, null)));
        return TypedResults.Json(list, ConsulJson.Api.ListAclTokenWire);
    }

    private static void Require(HttpContext http, AclTokens tokens, string permission)
    {
        Enabled(tokens);
        AclIdentity.Of(http).Management(permission);
    }

    // Consul answers ACL calls on a server without ACLs the same way.
    private static void Enabled(AclTokens tokens)
    {
        if (!tokens.Enabled)
            throw new ApiException(StatusCodes.Status401Unauthorized, "ACL support disabled: this server runs with --dev-open, so no token is checked");
    }

    private static string ServiceOf(AclTokenRequest body)
    {
        foreach (var (field, count) in new[] { ("Policies", body.Policies?.Count), ("Roles", body.Roles?.Count), ("NodeIdentities", body.NodeIdentities?.Count), ("TemplatedPolicies", body.TemplatedPolicies?.Count) })
        {
            if (count > 0)
                throw ApiException.BadRequest($"Invalid Token: {field} are not supported; a Weft token has exactly one ServiceIdentities entry (the management token is the server's own)");
        }

        if (!string.IsNullOrEmpty(body.ExpirationTtl) || !string.IsNullOrEmpty(body.ExpirationTime))
            throw ApiException.BadRequest("Invalid Token: ExpirationTTL and ExpirationTime are not supported; delete the token when it is no longer needed");
        var identities = body.ServiceIdentities ?? [];
        if (identities.Count != 1)
            throw ApiException.BadRequest($"Invalid Token: give exactly one ServiceIdentities entry, e.g. [{{\"ServiceName\":\"orders\"}}]; got {identities.Count}");
        var identity = identities[0] ?? throw ApiException.BadRequest("Invalid Token: the ServiceIdentities entry is null");
        if (identity.Datacenters is { Count: > 0 })
            throw ApiException.BadRequest("Invalid Token: ServiceIdentities Datacenters is not supported; a token is valid in this server's datacenter");
        var name = identity.ServiceName;
        if (string.IsNullOrEmpty(name))
            throw ApiException.BadRequest("Invalid Token: the service identity needs a ServiceName");
        if (name.Length > 256 || !ServiceIdentityName().IsMatch(name))
            throw ApiException.BadRequest($"Invalid Token: service identity \"{Printable(name)}\" has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed (at most 256)");
        return name;
    }

    private static string? Uuid(string? value, string field)
    {
        if (string.IsNullOrEmpty(value)) return null;
        if (!Guid.TryParseExact(value, "D", out var parsed))
            throw ApiException.BadRequest($"Invalid Token: {field} must be a UUID such as 5e52a099-4c90-c067-5478-980f06e6f4ee");
        return parsed.ToString();
    }

    private static AclTokenWire Management(AclTokens tokens) => new()
    {
        AccessorId = AclIdentity.ManagementAccessorId,
        Description = "Management token: the server's own (--acl-token-file, WEFT_ACL_TOKEN or the data dir)",
        Policies = [new AclPolicyLinkWire { Id = GlobalManagementPolicyId, Name = "global-management" }],
        CreateTime = tokens.ManagementSince,
        Hash = "",
        CreateIndex = 1,
        ModifyIndex = 1,
    };

    private static AclTokenWire ToWire(AclTokenRecord token, string? secretId) => new()
    {
        AccessorId = token.AccessorId,
        SecretId = secretId,
        Description = token.Description,
        ServiceIdentities = [new AclServiceIdentityWire { ServiceName = token.ServiceName }],
        Local = token.Local,
        CreateTime = token.CreateTime,
        // As Consul's: a digest of what the token grants, telling two versions apart; not the secret's hash.
        Hash = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes($"{token.ServiceName}\n{token.Description}\n{token.Local}"))),
        CreateIndex = token.CreateIndex,
        ModifyIndex = token.ModifyIndex,
    };

    private static string Printable(string name) => name.Length > 64 ? name[..64] + "..." : name;

    [GeneratedRegex("^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$")]
    private static partial Regex ServiceIdentityName();
}
