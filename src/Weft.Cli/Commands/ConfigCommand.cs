using System.CommandLine;

namespace Weft.Cli.Commands;

/// <summary><c>weft config write|read|list|delete</c>: config entries, as Consul's <c>consul config</c>.</summary>
internal static class ConfigCommand
{
    public static Command Create()
    {
        var command = new Command("config", "Write, read, list and delete config entries (service-defaults, service-router, service-splitter, service-resolver, service-intentions)");
        command.Subcommands.Add(ConfigWriteCommand.Create());
        command.Subcommands.Add(ConfigReadCommand.Create());
        command.Subcommands.Add(ConfigListCommand.Create());
        command.Subcommands.Add(ConfigDeleteCommand.Create());
        return command;
    }

    /// <summary>Indented JSON for people; the server's field names and values untouched.</summary>
    public static string Indented(System.Text.Json.JsonElement element)
    {
        using var buffer = new MemoryStream();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions
        {
            Indented = true,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }))
        {
            element.WriteTo(writer);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
