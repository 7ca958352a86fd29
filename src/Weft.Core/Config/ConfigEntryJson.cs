using System.Text.Json;
using System.Text.Json.Serialization;

namespace Weft.Core.Config;

/// <summary>
/// Reads and writes config entries as Consul's JSON: the <c>Kind</c> field picks the type. Field names are
/// matched case-insensitively, as Consul does.
/// </summary>
public static class ConfigEntryJson
{
    public static ConfigEntry Parse(ReadOnlySpan<byte> json)
    {
        var kind = ReadKind(json);
        return kind switch
        {
            ConfigKinds.ServiceDefaults => Deserialize(json, ConfigEntryJsonContext.Default.ServiceDefaultsEntry),
            ConfigKinds.ServiceRouter => Deserialize(json, ConfigEntryJsonContext.Default.ServiceRouterEntry),
            ConfigKinds.ServiceSplitter => Deserialize(json, ConfigEntryJsonContext.Default.ServiceSplitterEntry),
            ConfigKinds.ServiceResolver => Deserialize(json, ConfigEntryJsonContext.Default.ServiceResolverEntry),
            ConfigKinds.ServiceIntentions => Deserialize(json, ConfigEntryJsonContext.Default.ServiceIntentionsEntry).Normalized(),
            null or "" => throw new JsonException("missing Kind: one of " + string.Join(", ", ConfigKinds.All)),
            _ => throw new JsonException($"unknown Kind \"{kind}\": one of " + string.Join(", ", ConfigKinds.All)),
        };
    }

    public static byte[] Serialize(ConfigEntry entry) => entry switch
    {
        ServiceDefaultsEntry e => JsonSerializer.SerializeToUtf8Bytes(e, ConfigEntryJsonContext.Default.ServiceDefaultsEntry),
        ServiceRouterEntry e => JsonSerializer.SerializeToUtf8Bytes(e, ConfigEntryJsonContext.Default.ServiceRouterEntry),
        ServiceSplitterEntry e => JsonSerializer.SerializeToUtf8Bytes(e, ConfigEntryJsonContext.Default.ServiceSplitterEntry),
        ServiceResolverEntry e => JsonSerializer.SerializeToUtf8Bytes(e, ConfigEntryJsonContext.Default.ServiceResolverEntry),
        ServiceIntentionsEntry e => JsonSerializer.SerializeToUtf8Bytes(e, ConfigEntryJsonContext.Default.ServiceIntentionsEntry),
        _ => throw new ArgumentOutOfRangeException(nameof(entry)),
    };

    /// <summary>True when the two entries say the same thing, whatever their indexes.</summary>
    public static bool SameContent(ConfigEntry a, ConfigEntry b) =>
        Serialize(a with { CreateIndex = 0, ModifyIndex = 0 }).AsSpan().SequenceEqual(Serialize(b with { CreateIndex = 0, ModifyIndex = 0 }));

    private static T Deserialize<T>(ReadOnlySpan<byte> json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) =>
        JsonSerializer.Deserialize(json, type) ?? throw new JsonException("the entry is JSON null");

    private static string? ReadKind(ReadOnlySpan<byte> json)
    {
        try
        {
            return ReadKindOrThrow(json);
        }
        catch (InvalidOperationException e) when (e.InnerException is System.Text.DecoderFallbackException)
        {
            // Utf8JsonReader checks UTF-8 only when a string is read, and says so with an InvalidOperationException.
            throw new JsonException("a property name or string is not valid UTF-8");
        }
    }

    private static string? ReadKindOrThrow(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException("a config entry must be a JSON object");
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isKind = reader.GetString()!.Equals("Kind", StringComparison.OrdinalIgnoreCase);
            reader.Read();
            if (isKind)
                return reader.TokenType == JsonTokenType.String ? reader.GetString() : throw new JsonException("Kind must be a string");
            reader.Skip();
        }

        return null;
    }
}

[JsonSourceGenerationOptions(
    PropertyNameCaseInsensitive = true,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ServiceDefaultsEntry))]
[JsonSerializable(typeof(ServiceRouterEntry))]
[JsonSerializable(typeof(ServiceSplitterEntry))]
[JsonSerializable(typeof(ServiceResolverEntry))]
[JsonSerializable(typeof(ServiceIntentionsEntry))]
internal sealed partial class ConfigEntryJsonContext : JsonSerializerContext;
