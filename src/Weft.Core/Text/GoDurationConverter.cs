using System.Text.Json;
using System.Text.Json.Serialization;


namespace Weft.Core.Text;

/// <summary>Reads Consul durations: Go strings ("10s") or integer nanoseconds; writes Go strings.</summary>
public sealed class GoDurationConverter : JsonConverter<TimeSpan?>
{
    public override TimeSpan? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.Number when reader.TryGetInt64(out var nanos):
                return TimeSpan.FromTicks(nanos / 100);
            case JsonTokenType.String:
                var text = reader.GetString();
                if (string.IsNullOrEmpty(text)) return null;
                return GoDuration.TryParse(text, out var value, out var error) ? value : throw new JsonException(error);
            default:
                throw new JsonException($"expected a duration such as \"10s\", got {reader.TokenType}");
        }
    }

    public override void Write(Utf8JsonWriter writer, TimeSpan? value, JsonSerializerOptions options)
    {
        if (value is null) writer.WriteNullValue();
        else writer.WriteStringValue(GoDuration.Format(value.Value));
    }
}
