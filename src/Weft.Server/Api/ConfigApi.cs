using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Weft.Core.Catalog;
using Weft.Core.Config;
using Weft.Server.Acl;
using Weft.Server.Catalog;

namespace Weft.Server.Api;

/// <summary>
/// <c>/v1/config</c>: config entries, Consul's paths, bodies and status codes. An entry is validated whole
/// before it reaches the writer, so nothing is stored on a bad one; writing what is already stored is a no-op.
/// Any token reads entries; only the management token writes or deletes them (Consul's operator:write).
/// </summary>
internal static class ConfigApi
{
    private const string Json = "application/json; charset=utf-8";
    private static readonly byte[] True = "true"u8.ToArray();
    private static readonly byte[] False = "false"u8.ToArray();

    public static void MapConfigApi(this IEndpointRouteBuilder app)
    {
        var config = app.MapGroup("/v1/config");
        config.MapPut("", Apply);
        config.MapGet("/{kind}", List);
        config.MapGet("/{kind}/{name}", Get);
        config.MapDelete("/{kind}/{name}", Delete);
    }

    private static async Task<IResult> Apply(HttpRequest request, CatalogStore catalog)
    {
        AclIdentity.Of(request.HttpContext).Management("operator:write");
        var body = await RequestBody.ReadBytesAsync(request);
        ConfigEntry entry;
        try
        {
            entry = ConfigEntryJson.Parse(body);
        }
        catch (JsonException e) when (e.Message.Contains("missing required properties", StringComparison.Ordinal))
        {
            throw ApiException.BadRequest("Invalid config entry: config entry Name is required");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"Request decode failed: {RequestBody.Describe(e)}");
        }

        if (ConfigEntryValidation.Validate(entry) is { } problem)
            throw ApiException.BadRequest($"Invalid config entry: {problem}");

        var cas = Cas(request);
        var applied = await catalog.WriteAsync(tx =>
        {
            var current = tx.State.ConfigEntry(entry.Kind, entry.Name);
            // Consul's check-and-set: 0 creates only; N replaces only the entry last modified at N.
            if (cas is { } index && (index == 0 ? current is not null : current?.ModifyIndex != index))
                return false;
            tx.PutConfigEntry(entry);
            return true;
        });
        return TypedResults.Bytes(applied ? True : False, Json);
    }

    private static async Task<IResult> Get(string kind, string name, HttpContext http, BlockingQuery blocking)
    {
        KnownKind(kind);
        var state = await blocking.WaitAsync(http, Topics.ConfigEntry(kind, name));
        var entry = state.ConfigEntry(kind, name)
            ?? throw ApiException.NotFound($"Config entry not found for \"{kind}\" / \"{name}\"");
        return TypedResults.Bytes(ConfigEntryJson.Serialize(entry), Json);
    }

    private static async Task<IResult> List(string kind, HttpContext http, BlockingQuery blocking)
    {
        KnownKind(kind);
        var state = await blocking.WaitAsync(http, Topics.ConfigKind(kind));
        using var buffer = new MemoryStream();
        buffer.WriteByte((byte)'[');
        var first = true;
        foreach (var entry in state.ConfigEntriesOf(kind))
        {
            if (!first) buffer.WriteByte((byte)',');
            first = false;
            buffer.Write(ConfigEntryJson.Serialize(entry));
        }

        buffer.WriteByte((byte)']');
        return TypedResults.Bytes(buffer.ToArray(), Json);
    }

    private static async Task<IResult> Delete(string kind, string name, HttpRequest request, CatalogStore catalog)
    {
        AclIdentity.Of(request.HttpContext).Management("operator:write");
        KnownKind(kind);
        var cas = Cas(request);
        var deleted = await catalog.WriteAsync(tx =>
        {
            if (cas is { } index && tx.State.ConfigEntry(kind, name)?.ModifyIndex != index)
                return false;
            tx.DeleteConfigEntry(kind, name);
            return true;
        });
        // As Consul: the outcome only for a check-and-set delete, an empty object otherwise.
        return TypedResults.Bytes(cas is null ? "{}"u8.ToArray() : deleted ? True : False, Json);
    }

    private static void KnownKind(string kind)
    {
        if (!ConfigKinds.All.Contains(kind))
            throw ApiException.BadRequest($"invalid config entry kind: {kind} (one of {string.Join(", ", ConfigKinds.All)})");
    }

    private static ulong? Cas(HttpRequest request)
    {
        if (!request.Query.TryGetValue("cas", out var text)) return null;
        return ulong.TryParse(text, out var index)
            ? index
            : throw ApiException.BadRequest($"Invalid cas index \"{text}\": must be a non-negative integer");
    }
}
