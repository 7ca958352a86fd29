using System.Text.Json;

namespace Weft.Cli.Api;

/// <summary>What the CLI's file-taking commands share: a path or <c>-</c> for stdin, and case-blind field lookups.</summary>
internal static class InputFile
{
    public const string StdinName = "-";

    /// <summary>The display name and text of <paramref name="path"/>, or the reason it could not be read.</summary>
    public static async Task<(string Name, string? Text, string? Error)> ReadAsync(string path, TextReader stdin, CancellationToken ct)
    {
        var name = path == StdinName ? "stdin" : path;
        try
        {
            return (name, path == StdinName ? await stdin.ReadToEndAsync(ct) : await File.ReadAllTextAsync(path, ct), null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (name, null, $"cannot read {name}: {e.Message}");
        }
    }

    /// <summary>A non-empty string field, its name matched case-insensitively as Consul's decoder does.</summary>
    public static string? StringProperty(JsonElement obj, string name) =>
        obj.EnumerateObject()
            .Where(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase) && p.Value.ValueKind == JsonValueKind.String)
            .Select(p => p.Value.GetString())
            .FirstOrDefault(v => !string.IsNullOrEmpty(v));
}
