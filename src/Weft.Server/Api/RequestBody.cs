using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;

namespace Weft.Server.Api;

/// <summary>Reads a JSON body, turning every way it can be wrong into a 4xx that says what is wrong.</summary>
internal static class RequestBody
{
    /// <summary>Reads the body; an empty one gives <paramref name="whenEmpty"/>, or a 400 when that is null.</summary>
    public static async Task<T> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> type, Func<T>? whenEmpty = null)
        where T : class
    {
        // Kestrel enforces the 1 MiB limit while this reads; larger bodies end in a 413 (see ApiErrors).
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, request.HttpContext.RequestAborted);
        if (buffer.Length == 0 || buffer.ToArray().All(b => b is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t'))
            return whenEmpty?.Invoke() ?? throw ApiException.BadRequest("Request decode failed: the body is empty; send a JSON object");

        try
        {
            return JsonSerializer.Deserialize(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), type)
                ?? throw ApiException.BadRequest("Request decode failed: the body is JSON null; send an object");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"Request decode failed: {Describe(e)}");
        }
    }

    /// <summary>The raw body, refusing an empty one with the same 400 as <see cref="ReadAsync"/>.</summary>
    public static async Task<byte[]> ReadBytesAsync(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, request.HttpContext.RequestAborted);
        if (buffer.Length == 0 || buffer.ToArray().All(b => b is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t'))
            throw ApiException.BadRequest("Request decode failed: the body is empty; send a JSON object");
        return buffer.ToArray();
    }

    public static string Describe(JsonException e)
    {
        var where = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "" : $" at {e.Path}";
        // System.Text.Json's messages name .NET types; say what the client should send instead.
        // Utf8JsonReader checks UTF-8 only when it reads a string; the serializer then blames the field's type.
        if (e.InnerException is InvalidOperationException { InnerException: System.Text.DecoderFallbackException })
            return $"a string{where} is not valid UTF-8";
        var message = e.Message;
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut > 0) message = message[..cut];
        if (message.StartsWith("The JSON value could not be converted to", StringComparison.Ordinal))
            return $"wrong type for field{where} (expected {Friendly(message)})";
        if (e.InnerException is null && !message.StartsWith('\'') && e.LineNumber is null)
            return $"{message.TrimEnd('.')}{where}";
        return $"{message.TrimEnd('.')}{where} (line {e.LineNumber + 1}, byte {e.BytePositionInLine})";
    }

    private static string Friendly(string message) =>
        message.Contains("List", StringComparison.Ordinal) ? "an array"
        : message.Contains("Dictionary", StringComparison.Ordinal) ? "an object"
        : message.Contains("System.Int32", StringComparison.Ordinal) || message.Contains("System.Int64", StringComparison.Ordinal) ? "a number"
        : message.Contains("System.Boolean", StringComparison.Ordinal) ? "true or false"
        : message.Contains("System.String", StringComparison.Ordinal) ? "a string"
        : "an object";
}
