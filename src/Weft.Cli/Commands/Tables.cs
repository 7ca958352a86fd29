using Spectre.Console;
using Spectre.Console.Rendering;
using Weft.Cli.Api;
using Weft.Core.Catalog;

namespace Weft.Cli.Commands;

/// <summary>
/// The tables the operator commands print. On a terminal they get borders and colour; anywhere
/// else they are bare aligned columns, so <c>grep</c>, <c>awk</c> and log files read them.
/// </summary>
internal static class Tables
{
    public static Table Services(IReadOnlyList<ServiceSummary> services, bool colors)
    {
        var table = Create(colors, "SERVICE", "INSTANCES", "PASSING", "WARNING", "CRITICAL", "TAGS");
        foreach (var s in services)
        {
            table.AddRow(
                Plain(s.Name),
                Plain(s.Instances.ToString()),
                Count(s.Passing, HealthStatus.Passing, colors),
                Count(s.Warning, HealthStatus.Warning, colors),
                Count(s.Critical, HealthStatus.Critical, colors),
                Plain(string.Join(",", s.Tags)));
        }
        if (services.Count == 0)
            table.Caption("no services registered");
        return table;
    }

    /// <summary>One row per instance, followed by one indented row per check.</summary>
    public static Table Instances(IReadOnlyList<InstanceView> instances, bool colors)
    {
        var table = Create(colors, "ID", "ADDRESS", "NODE", "HEALTH", "CHECK", "STATUS", "OUTPUT");
        foreach (var i in instances)
        {
            var address = i.Port > 0 ? $"{i.Address}:{i.Port}" : i.Address;
            table.AddRow(Plain(i.Id), Plain(address), Plain(i.Node), Status(i.Health, colors), Plain(""), Plain(""), Plain(""));
            foreach (var c in i.Checks)
            {
                table.AddRow(Plain(""), Plain(""), Plain(""), Plain(""),
                    Plain(c.CheckId), Status(c.Status, colors), Plain(CliViews.OneLine(c.Output)));
            }
        }
        return table;
    }

    /// <summary>One row per intention, highest precedence first (the server's order).</summary>
    public static Table Intentions(IReadOnlyList<System.Text.Json.JsonElement> intentions, bool colors)
    {
        var table = Create(colors, "SOURCE", "DESTINATION", "ACTION", "PRECEDENCE", "DESCRIPTION");
        foreach (var i in intentions)
        {
            var action = i.TryGetProperty("Action", out var a) ? a.GetString() ?? "" : "";
            if (i.TryGetProperty("Permissions", out var p) && p.ValueKind == System.Text.Json.JsonValueKind.Array)
                action = $"L7 ({p.GetArrayLength()} permissions)";
            table.AddRow(
                Plain(i.GetProperty("SourceName").GetString() ?? ""),
                Plain(i.GetProperty("DestinationName").GetString() ?? ""),
                Plain(action),
                Plain(i.GetProperty("Precedence").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture)),
                Plain(i.TryGetProperty("Description", out var d) ? d.GetString() ?? "" : ""));
        }
        if (intentions.Count == 0)
            table.Caption("no intentions");
        return table;
    }

    /// <summary>One row per entry: its name, what it says in brief, and when it last changed.</summary>
    public static Table ConfigEntries(string kind, IReadOnlyList<System.Text.Json.JsonElement> entries, bool colors)
    {
        var table = Create(colors, "NAME", "MODIFY INDEX", "SUMMARY");
        foreach (var e in entries)
        {
            table.AddRow(
                Plain(e.TryGetProperty("Name", out var name) ? name.GetString() ?? "" : ""),
                Plain(e.TryGetProperty("ModifyIndex", out var index) ? index.ToString() : ""),
                Plain(CliViews.ConfigSummary(e)));
        }
        if (entries.Count == 0)
            table.Caption($"no {kind} entries");
        return table;
    }

    /// <summary>One row per ACL token: the management token first, then service tokens oldest first.</summary>
    public static Table AclTokens(IReadOnlyList<System.Text.Json.JsonElement> tokens, bool colors)
    {
        var table = Create(colors, "ACCESSOR ID", "KIND", "SERVICE", "CREATED", "DESCRIPTION");
        foreach (var t in tokens)
        {
            var service = t.TryGetProperty("ServiceIdentities", out var ids) && ids.ValueKind == System.Text.Json.JsonValueKind.Array && ids.GetArrayLength() > 0
                ? ids[0].GetProperty("ServiceName").GetString() ?? ""
                : "";
            table.AddRow(
                Plain(t.GetProperty("AccessorID").GetString() ?? ""),
                Plain(service.Length > 0 ? "service" : "management"),
                Plain(service.Length > 0 ? service : "(all)"),
                Plain(t.TryGetProperty("CreateTime", out var created) ? created.GetDateTimeOffset().UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture) : ""),
                Plain(t.TryGetProperty("Description", out var description) ? description.GetString() ?? "" : ""));
        }
        return table;
    }

    private static Table Create(bool colors, params string[] headers)
    {
        var table = new Table { Border = colors ? TableBorder.Rounded : TableBorder.None };
        // Only the last column (tags, check output) may wrap: a wrapped ID or address reads as two.
        for (var i = 0; i < headers.Length; i++)
            table.AddColumn(new TableColumn(Plain(headers[i])) { NoWrap = i < headers.Length - 1 });
        return table;
    }

    // Text, never markup: service names, tags and check output are user data and may hold '['.
    private static IRenderable Plain(string text) => new Text(text);

    private static IRenderable Status(string status, bool colors) =>
        colors ? new Text(status, new Style(ColorOf(status))) : new Text(status);

    private static IRenderable Count(int count, string status, bool colors) =>
        colors && count > 0 ? new Text(count.ToString(), new Style(ColorOf(status))) : new Text(count.ToString());

    private static Color ColorOf(string status) => status switch
    {
        HealthStatus.Passing => Color.Green,
        HealthStatus.Warning => Color.Yellow,
        _ => Color.Red,
    };
}
