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
}
