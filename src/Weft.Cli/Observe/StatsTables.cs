using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;
using Weft.Cli.Api;

namespace Weft.Cli.Observe;

/// <summary>
/// How <c>weft top</c> and <c>weft stat</c> show golden signals. As the other operator tables: borders and
/// colour on a terminal, bare aligned columns elsewhere so scripts can split them on whitespace.
/// </summary>
internal static class StatsTables
{
    public const string NoData = "-";

    // Below these a figure is worth the operator's eye; the same thresholds colour every table.
    private const double HealthySuccess = 0.99;
    private const double FailingSuccess = 0.95;

    public static IReadOnlyList<ServiceStats> Sort(IEnumerable<ServiceStats> services, string sort) => sort switch
    {
        // Worst first: the operator looks for what is failing, and a service with no traffic has nothing to show.
        "success" => [.. services.OrderBy(s => s.SuccessRate ?? double.MaxValue).ThenByDescending(s => s.RequestsPerSecond).ThenBy(s => s.Name, StringComparer.Ordinal)],
        "p99" => [.. services.OrderByDescending(s => s.P99Seconds ?? -1).ThenBy(s => s.Name, StringComparer.Ordinal)],
        _ => [.. services.OrderByDescending(s => s.RequestsPerSecond).ThenBy(s => s.Name, StringComparer.Ordinal)],
    };

    public static IReadOnlyList<RouteStats> SortRoutes(IEnumerable<RouteStats> routes, string sort) => sort switch
    {
        "success" => [.. routes.OrderBy(r => r.SuccessRate ?? double.MaxValue).ThenBy(r => r.Route, StringComparer.Ordinal)],
        "p99" => [.. routes.OrderByDescending(r => r.P99Seconds ?? -1).ThenBy(r => r.Route, StringComparer.Ordinal)],
        _ => [.. routes.OrderByDescending(r => r.RequestsPerSecond).ThenBy(r => r.Route, StringComparer.Ordinal)],
    };

    /// <summary><c>weft top</c>: one row per service.</summary>
    public static Table Services(MeshStats stats, string sort, bool colors)
    {
        // Short health headers so nine columns fit an 80-column terminal with borders.
        var table = Create(colors, "SERVICE", "RPS", "SUCCESS", "P50", "P99", "INST", "PASS", "WARN", "CRIT");
        foreach (var s in Sort(stats.Services, sort))
        {
            table.AddRow(
                new Text(s.Name), new Text(Rate(s.RequestsPerSecond)), Success(s.SuccessRate, colors),
                new Text(Latency(s.P50Seconds)), new Text(Latency(s.P99Seconds)),
                new Text(Int(s.Instances)), Health(s.Passing, Color.Green, colors), Health(s.Warning, Color.Yellow, colors),
                Health(s.Critical, Color.Red, colors));
        }
        table.Caption(stats.Services.Count == 0
            ? "no services registered"
            : $"{Stamp(stats.Time)}, last {stats.WindowSeconds.ToString("0", CultureInfo.InvariantCulture)}s, sorted by {sort}");
        return table;
    }

    /// <summary><c>weft top --service NAME</c>: one row per route of that service.</summary>
    public static Table Routes(ServiceStats service, DateTimeOffset time, string sort, bool colors)
    {
        var table = Create(colors, "ROUTE", "RPS", "SUCCESS", "P50", "P99");
        foreach (var r in SortRoutes(service.Routes ?? [], sort))
            table.AddRow(new Text(r.Route), new Text(Rate(r.RequestsPerSecond)), Success(r.SuccessRate, colors), new Text(Latency(r.P50Seconds)), new Text(Latency(r.P99Seconds)));
        table.Caption((service.Routes ?? []).Count == 0
            ? $"{service.Name}: no routes with traffic"
            : $"{service.Name} at {Stamp(time)}, sorted by {sort}");
        return table;
    }

    /// <summary><c>weft stat SERVICE</c>: the signals, then the busiest callers and callees.</summary>
    public static IRenderable Stat(ServiceStats s, bool colors, int topPeers = 5)
    {
        var window = s.WindowSeconds is { } w ? $"{w.ToString("0", CultureInfo.InvariantCulture)}s" : "the window";
        var summary = Create(colors, "SIGNAL", "VALUE");
        summary.AddRow(new Text("service"), new Text(s.Name));
        summary.AddRow(new Text("requests/s"), new Text(Rate(s.RequestsPerSecond)));
        summary.AddRow(new Text("success"), Success(s.SuccessRate, colors));
        summary.AddRow(new Text("p50"), new Text(Latency(s.P50Seconds)));
        summary.AddRow(new Text("p99"), new Text(Latency(s.P99Seconds)));
        summary.AddRow(new Text("instances"), new Text($"{Int(s.Instances)} ({Int(s.Passing)} passing, {Int(s.Warning)} warning, {Int(s.Critical)} critical)"));
        summary.Caption($"over the last {window}");

        var peers = Create(colors, "DIRECTION", "PEER", "RPS", "SUCCESS");
        foreach (var e in (s.Callers ?? []).OrderByDescending(e => e.RequestsPerSecond).ThenBy(e => e.Source, StringComparer.Ordinal).Take(topPeers))
            peers.AddRow(new Text("caller"), new Text(e.Source), new Text(Rate(e.RequestsPerSecond)), Success(e.SuccessRate, colors));
        foreach (var e in (s.Callees ?? []).OrderByDescending(e => e.RequestsPerSecond).ThenBy(e => e.Destination, StringComparer.Ordinal).Take(topPeers))
            peers.AddRow(new Text("callee"), new Text(e.Destination), new Text(Rate(e.RequestsPerSecond)), Success(e.SuccessRate, colors));
        if (peers.Rows.Count == 0)
            peers.Caption("no callers or callees in the window");
        return new Rows(summary, new Text(""), peers);
    }

    public static string Rate(double perSecond) => perSecond.ToString("0.0", CultureInfo.InvariantCulture);

    public static string Percent(double? ratio) =>
        ratio is { } r ? (r * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%" : NoData;

    /// <summary>Milliseconds with the precision a reader needs: 0.25ms, 4.2ms, 130ms, 2.5s.</summary>
    public static string Latency(double? seconds) => seconds switch
    {
        null => NoData,
        >= 1 => seconds.Value.ToString("0.0#", CultureInfo.InvariantCulture) + "s",
        >= 0.1 => (seconds.Value * 1000).ToString("0", CultureInfo.InvariantCulture) + "ms",
        >= 0.001 => (seconds.Value * 1000).ToString("0.0", CultureInfo.InvariantCulture) + "ms",
        _ => (seconds.Value * 1000).ToString("0.00", CultureInfo.InvariantCulture) + "ms",
    };

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Stamp(DateTimeOffset time) => time.UtcDateTime.ToString("HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static IRenderable Success(double? ratio, bool colors)
    {
        var text = Percent(ratio);
        if (!colors || ratio is not { } r) return new Text(text);
        var color = r >= HealthySuccess ? Color.Green : r >= FailingSuccess ? Color.Yellow : Color.Red;
        return new Text(text, new Style(color));
    }

    private static IRenderable Health(int count, Color color, bool colors) =>
        colors && count > 0 ? new Text(Int(count), new Style(color)) : new Text(Int(count));

    private static Table Create(bool colors, params string[] headers)
    {
        var table = new Table { Border = colors ? TableBorder.Rounded : TableBorder.None };
        for (var i = 0; i < headers.Length; i++)
            table.AddColumn(new TableColumn(new Text(headers[i])) { NoWrap = true, Alignment = i == 0 ? Justify.Left : Justify.Right });
        return table;
    }
}
