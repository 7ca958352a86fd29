using System.Text.Json.Serialization;
using Weft.Core.Catalog;

namespace Weft.Cli.Api;

/// <summary>One row of <c>weft services</c>; also its <c>--json</c> shape.</summary>
internal sealed record ServiceSummary(
    string Name,
    int Instances,
    int Passing,
    int Warning,
    int Critical,
    IReadOnlyList<string> Tags);

/// <summary>One instance in <c>weft instances</c>; also its <c>--json</c> shape.</summary>
internal sealed record InstanceView(
    [property: JsonPropertyName("ID")] string Id,
    string Service,
    string Address,
    int Port,
    string Node,
    string Health,
    IReadOnlyList<string> Tags,
    IReadOnlyList<CheckView> Checks);

internal sealed record CheckView(
    [property: JsonPropertyName("CheckID")] string CheckId,
    string Name,
    string Status,
    string Output);

/// <summary>Turns Consul's health entries into what the operator reads.</summary>
internal static class CliViews
{
    public static InstanceView ToInstance(HealthServiceEntry entry)
    {
        var checks = (entry.Checks ?? []).Select(c => new CheckView(
            c.CheckId ?? "", c.Name ?? "", c.Status ?? HealthStatus.Critical, c.Output ?? "")).ToList();
        var service = entry.Service ?? new AgentService();
        var node = entry.Node ?? new CatalogNode();
        // Consul leaves Service.Address empty when the instance listens on its node's address.
        var address = string.IsNullOrEmpty(service.Address) ? node.Address ?? "" : service.Address;
        return new InstanceView(
            service.Id ?? "", service.Service ?? "", address, service.Port, node.Node ?? "",
            AggregateHealth(checks), service.Tags ?? [], checks);
    }

    /// <summary>
    /// Counts instances (not checks) by their aggregated health, the way <c>?passing</c> filters
    /// them; maintenance is counted as critical because such an instance receives no traffic.
    /// </summary>
    public static ServiceSummary Summarize(string name, IReadOnlyList<string> tags, IReadOnlyList<InstanceView> instances)
    {
        int passing = 0, warning = 0, critical = 0;
        foreach (var instance in instances)
        {
            switch (instance.Health)
            {
                case HealthStatus.Passing: passing++; break;
                case HealthStatus.Warning: warning++; break;
                default: critical++; break;
            }
        }
        return new ServiceSummary(name, instances.Count, passing, warning, critical, tags);
    }

    /// <summary>Worst of all checks, node checks included; an instance with no checks is passing, as in Consul.</summary>
    public static string AggregateHealth(IEnumerable<CheckView> checks) =>
        checks.Aggregate(HealthStatus.Passing, (worst, c) => HealthStatus.Worst(worst, c.Status));

    /// <summary>Check output is often a multi-line HTTP body; a table cell gets its first non-blank line.</summary>
    public static string OneLine(string output, int maxLength = 80)
    {
        var line = output.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? "";
        return line.Length <= maxLength ? line : string.Concat(line.AsSpan(0, maxLength - 1), "…");
    }

    /// <summary>What an entry says, in a few words, for <c>weft config list</c>.</summary>
    public static string ConfigSummary(System.Text.Json.JsonElement entry)
    {
        string? Text(System.Text.Json.JsonElement e, string name) =>
            e.ValueKind == System.Text.Json.JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.String ? v.GetString() : null;
        int Count(string name) =>
            entry.TryGetProperty(name, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.Array ? v.GetArrayLength() : 0;

        switch (Text(entry, "Kind"))
        {
            case "service-defaults":
                return $"protocol {Text(entry, "Protocol") ?? "http"}" + (entry.TryGetProperty("UpstreamConfig", out _) ? ", upstream config" : "");
            case "service-router":
                return $"{Count("Routes")} route(s)";
            case "service-splitter":
                if (!entry.TryGetProperty("Splits", out var splits) || splits.ValueKind != System.Text.Json.JsonValueKind.Array) return "";
                return string.Join(", ", splits.EnumerateArray().Select(s =>
                {
                    var target = Text(s, "Service") ?? Text(entry, "Name") ?? "";
                    if (Text(s, "ServiceSubset") is { Length: > 0 } subset) target += "/" + subset;
                    var weight = s.TryGetProperty("Weight", out var w) && w.ValueKind == System.Text.Json.JsonValueKind.Number ? w.GetDouble() : 0;
                    return $"{target} {weight.ToString(System.Globalization.CultureInfo.InvariantCulture)}%";
                }));
            case "service-resolver":
                var policy = entry.TryGetProperty("LoadBalancer", out var lb) ? Text(lb, "Policy") : null;
                var subsets = entry.TryGetProperty("Subsets", out var s2) && s2.ValueKind == System.Text.Json.JsonValueKind.Object
                    ? string.Join(",", s2.EnumerateObject().Select(p => p.Name)) : "";
                return $"load balancer {(string.IsNullOrEmpty(policy) ? "default" : policy)}" + (subsets.Length > 0 ? $", subsets {subsets}" : "");
            case "service-intentions":
                return $"{Count("Sources")} source(s)";
            default:
                return "";
        }
    }
}
