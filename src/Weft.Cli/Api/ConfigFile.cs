using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Weft.Cli.Api;

/// <summary>
/// A config entry read from a file or stdin, JSON or YAML, turned into the JSON the server takes. YAML is
/// converted node by node, so field names stay exactly as written (Consul's); an unquoted scalar that reads
/// as a number, true/false or null becomes one, a quoted one stays a string.
/// </summary>
internal sealed partial record ConfigFile(string? Json, string Kind, string Name, string? Error)
{
    public const string StdinName = InputFile.StdinName;

    public static async Task<ConfigFile> ReadAsync(string path, TextReader stdin, CancellationToken ct)
    {
        var (name, text, error) = await InputFile.ReadAsync(path, stdin, ct);
        if (text is null)
            return Failed(error!);

        return Parse(name, text);
    }

    public static ConfigFile Parse(string name, string text)
    {
        string json;
        if (text.TrimStart().StartsWith('{'))
        {
            json = text;
        }
        else
        {
            try
            {
                json = YamlToJson(text);
            }
            catch (YamlException e)
            {
                return Failed($"{name} is neither JSON nor valid YAML: {e.Message} (line {e.Start.Line}, column {e.Start.Column})");
            }
        }

        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                return Failed($"{name} is not a config entry: expected an object with Kind and Name");
            var kind = InputFile.StringProperty(document.RootElement, "Kind");
            if (string.IsNullOrEmpty(kind))
                return Failed($"{name} has no Kind: set one of service-defaults, service-router, service-splitter, service-resolver, service-intentions");
            return new ConfigFile(json, kind, InputFile.StringProperty(document.RootElement, "Name") ?? "", null);
        }
        catch (JsonException e)
        {
            return Failed($"{name} is not valid JSON: {e.Message}");
        }
    }

    private static string YamlToJson(string text)
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(text));
        if (yaml.Documents.Count != 1)
            throw new YamlException($"expected one YAML document, found {yaml.Documents.Count}");
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
            Write(writer, yaml.Documents[0].RootNode);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Write(Utf8JsonWriter writer, YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode map:
                writer.WriteStartObject();
                foreach (var (key, value) in map.Children)
                {
                    writer.WritePropertyName(((YamlScalarNode)key).Value ?? "");
                    Write(writer, value);
                }
                writer.WriteEndObject();
                break;
            case YamlSequenceNode list:
                writer.WriteStartArray();
                foreach (var item in list.Children)
                    Write(writer, item);
                writer.WriteEndArray();
                break;
            case YamlScalarNode scalar:
                WriteScalar(writer, scalar);
                break;
            default:
                throw new YamlException(node.Start, node.End, "aliases are not supported in config entries");
        }
    }

    private static void WriteScalar(Utf8JsonWriter writer, YamlScalarNode scalar)
    {
        var value = scalar.Value ?? "";
        if (scalar.Style != YamlDotNet.Core.ScalarStyle.Plain)
        {
            writer.WriteStringValue(value);
            return;
        }

        if (value is "" or "~" or "null" or "Null" or "NULL") writer.WriteNullValue();
        else if (value is "true" or "True" or "TRUE") writer.WriteBooleanValue(true);
        else if (value is "false" or "False" or "FALSE") writer.WriteBooleanValue(false);
        // The pattern is JSON's own number grammar, so the text goes through as written.
        else if (Number().IsMatch(value)) writer.WriteRawValue(value);
        else writer.WriteStringValue(value);
    }

    [GeneratedRegex(@"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")]
    private static partial Regex Number();

    private static ConfigFile Failed(string error) => new(null, "", "", error);
}
