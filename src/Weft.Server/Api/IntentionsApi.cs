using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Weft.Core.Catalog;
using Weft.Core.Config;
using Weft.Server.Acl;
using Weft.Server.Api.Wire;
using Weft.Server.Catalog;
using Weft.Server.Mesh;

namespace Weft.Server.Api;

/// <summary>
/// <c>/v1/connect/intentions</c>: Consul's intention endpoints over the <c>service-intentions</c> config entries. An
/// intention is one source of the destination's entry; writing one rewrites that entry (validated whole), deleting the
/// last source deletes the entry.
/// </summary>
internal static class IntentionsApi
{
    private const string Json = "application/json; charset=utf-8";

    public static void MapIntentionsApi(this IEndpointRouteBuilder app)
    {
        var intentions = app.MapGroup("/v1/connect/intentions");
        intentions.MapGet("", List);
        intentions.MapGet("/exact", Get);
        intentions.MapPut("/exact", Put);
        intentions.MapDelete("/exact", Delete);
        intentions.MapGet("/check", Check);
    }

    private static IResult List(HttpContext http, CatalogStore catalog)
    {
        var state = catalog.Current;
        BlockingQuery.SetHeaders(http.Response, state.Index);
        var list = state.ConfigEntriesOf(ConfigKinds.ServiceIntentions)
            .Cast<ServiceIntentionsEntry>()
            .SelectMany(e => (e.Sources ?? []).Select(s => Wire(e, s)))
            .OrderByDescending(i => i.Precedence)
            .ThenBy(i => i.SourceName, StringComparer.Ordinal)
            .ThenBy(i => i.DestinationName, StringComparer.Ordinal)
            .ToList();
        return TypedResults.Json(list, ConsulJson.Api.ListIntentionWire);
    }

    private static IResult Get(HttpContext http, CatalogStore catalog)
    {
        var (source, destination) = Names(http.Request);
        var state = catalog.Current;
        BlockingQuery.SetHeaders(http.Response, state.Index);
        var entry = state.ConfigEntry(ConfigKinds.ServiceIntentions, destination) as ServiceIntentionsEntry;
        var intention = entry?.Sources?.FirstOrDefault(s => SameName(s.Name, source))
            ?? throw ApiException.NotFound($"Intention not found: {source} => {destination}");
        return TypedResults.Json(Wire(entry!, intention), ConsulJson.Api.IntentionWire);
    }

    private static async Task<IResult> Put(HttpRequest request, CatalogStore catalog)
    {
        AclIdentity.Of(request.HttpContext).Management("intentions:write");
        var (source, destination) = Names(request);
        var body = await RequestBody.ReadAsync(request, ConsulJson.Api.IntentionRequest);
        var intention = new SourceIntention
        {
            Name = source,
            Action = string.IsNullOrEmpty(body.Action) ? null : body.Action,
            Permissions = body.Permissions is { Count: > 0 } ? body.Permissions : null,
            Description = body.Description,
        };

        await catalog.WriteAsync(tx =>
        {
            var current = tx.State.ConfigEntry(ConfigKinds.ServiceIntentions, destination) as ServiceIntentionsEntry;
            var sources = (current?.Sources ?? []).Where(s => !SameName(s.Name, source)).Append(intention).ToList();
            var entry = (current ?? new ServiceIntentionsEntry { Kind = ConfigKinds.ServiceIntentions, Name = destination }) with { Sources = sources };
            entry = entry.Normalized();
            // Validated inside the write, against the entry it replaces: nothing is stored when any part is wrong.
            if (ConfigEntryValidation.Validate(entry) is { } problem)
                throw ApiException.BadRequest($"Invalid intention: {problem}");
            tx.PutConfigEntry(entry);
            return true;
        });
        return TypedResults.Bytes("true"u8.ToArray(), Json);
    }

    private static async Task<IResult> Delete(HttpRequest request, CatalogStore catalog)
    {
        AclIdentity.Of(request.HttpContext).Management("intentions:write");
        var (source, destination) = Names(request);
        await catalog.WriteAsync(tx =>
        {
            if (tx.State.ConfigEntry(ConfigKinds.ServiceIntentions, destination) is not ServiceIntentionsEntry current)
                return false;
            var sources = (current.Sources ?? []).Where(s => !SameName(s.Name, source)).ToList();
            if (sources.Count == (current.Sources?.Count ?? 0))
                return false;
            if (sources.Count == 0)
                tx.DeleteConfigEntry(ConfigKinds.ServiceIntentions, destination);
            else
                tx.PutConfigEntry(current with { Sources = sources });
            return true;
        });
        // As Consul: deleting an intention that does not exist is not an error.
        return TypedResults.Bytes("true"u8.ToArray(), Json);
    }

    /// <summary>Consul's L4 view: would a connection from source to destination be allowed, whatever its requests.</summary>
    private static IResult Check(HttpContext http, CatalogStore catalog, IntentionDefaults defaults)
    {
        var (source, destination) = Names(http.Request);
        var state = catalog.Current;
        BlockingQuery.SetHeaders(http.Response, state.Index);
        var intention = IntentionDecision.Find(source, destination, name => state.ConfigEntry(ConfigKinds.ServiceIntentions, name) as ServiceIntentionsEntry);
        return TypedResults.Json(new IntentionCheckWire { Allowed = IntentionDecision.AllowsConnection(intention, defaults.Allow) }, ConsulJson.Api.IntentionCheckWire);
    }

    private static (string Source, string Destination) Names(HttpRequest request) => (Name(request, "source"), Name(request, "destination"));

    private static string Name(HttpRequest request, string parameter)
    {
        var value = request.Query[parameter].ToString();
        if (string.IsNullOrWhiteSpace(value))
            throw ApiException.BadRequest($"required query parameter '{parameter}' not set (a service name, or * for any)");
        if (value.Contains('/'))
            throw ApiException.BadRequest($"query parameter '{parameter}' \"{value}\" must be a service name without '/' (namespaces are not supported)");
        return value;
    }

    private static bool SameName(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    private static IntentionWire Wire(ServiceIntentionsEntry entry, SourceIntention source) => new()
    {
        Description = source.Description,
        SourceName = source.Name,
        DestinationName = entry.Name,
        SourceType = string.IsNullOrEmpty(source.Type) ? IntentionSourceTypes.Consul : source.Type,
        Action = source.IsL7 ? null : source.Action,
        Permissions = source.IsL7 ? source.Permissions : null,
        Precedence = source.Precedence,
        Meta = entry.Meta,
        CreateIndex = entry.CreateIndex,
        ModifyIndex = entry.ModifyIndex,
    };
}
