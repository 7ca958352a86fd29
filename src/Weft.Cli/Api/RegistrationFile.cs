using System.Text.Json;

namespace Weft.Cli.Api;

/// <summary>
/// A registration read from disk or stdin and checked to be a JSON object. The text itself is
/// what gets sent, unchanged, so every field the server understands survives, even ones the
/// CLI has never heard of.
/// </summary>
internal sealed record RegistrationFile(string? Json, string? ServiceId, string? Error)
{
    public const string StdinName = InputFile.StdinName;

    public static async Task<RegistrationFile> ReadAsync(string path, TextReader stdin, CancellationToken ct)
    {
        var (name, text, error) = await InputFile.ReadAsync(path, stdin, ct);
        if (text is null)
            return Failed(error!);
        return Parse(name, text);
    }

    public static RegistrationFile Parse(string name, string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                return Failed($"{name} is not a service registration: expected a JSON object, found {document.RootElement.ValueKind}");
            // Consul defaults the ID to the Name; its decoder matches field names case-insensitively.
            var id = InputFile.StringProperty(document.RootElement, "ID") ?? InputFile.StringProperty(document.RootElement, "Name") ?? "";
            return new RegistrationFile(text, id, null);
        }
        catch (JsonException e)
        {
            return Failed($"{name} is not valid JSON: {Describe(e)}");
        }
    }


    // JsonException counts lines from 0 and appends them to its message; editors count from 1.
    private static string Describe(JsonException e)
    {
        var message = e.Message;
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut > 0)
            message = message[..cut];
        return e.LineNumber is { } line
            ? $"{message} (line {line + 1}, byte {(e.BytePositionInLine ?? 0) + 1})"
            : message;
    }

    private static RegistrationFile Failed(string error) => new(null, null, error);
}
