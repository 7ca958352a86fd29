using System.Collections.Frozen;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Weft.Server.Ui;

/// <summary>
/// The dashboard at <c>/ui</c>: static files embedded in this assembly (no build step, nothing fetched from elsewhere),
/// served without a token. The page reads the same HTTP API as everyone else, with the token the user types in.
/// </summary>
internal static class UiFiles
{
    public const string Path = "/ui";

    private static readonly FrozenDictionary<string, (byte[] Body, string ContentType)> Files = Load();

    public static void MapUi(this IEndpointRouteBuilder app)
    {
        // One route for /ui, /ui/ and the files (routing ignores a trailing slash): /ui redirects, so relative links resolve.
        app.MapGet(Path + "/{**file}", (string? file, HttpContext http) =>
        {
            if (string.IsNullOrEmpty(file) && !http.Request.Path.Value!.EndsWith('/'))
                return Results.Redirect(Path + "/");
            var name = string.IsNullOrEmpty(file) ? "index.html" : file;
            if (!Files.TryGetValue(name, out var found))
                return Results.Text($"No dashboard file \"{name}\"", "text/plain; charset=utf-8", statusCode: StatusCodes.Status404NotFound);
            http.Response.Headers.CacheControl = "no-cache";
            return Results.Bytes(found.Body, found.ContentType);
        });
    }

    private static FrozenDictionary<string, (byte[], string)> Load()
    {
        var assembly = typeof(UiFiles).Assembly;
        var files = new Dictionary<string, (byte[], string)>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith("ui/", StringComparison.Ordinal)) continue;
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var name = resource["ui/".Length..].Replace('\\', '/');
            files[name] = (buffer.ToArray(), ContentType(name));
        }

        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static string ContentType(string name) => System.IO.Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };
}
