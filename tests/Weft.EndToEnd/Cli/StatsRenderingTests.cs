using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Rendering;
using Weft.Cli.Api;
using Weft.Cli.Observe;

namespace Weft.EndToEnd.Cli;

/// <summary>How top and stat lay out the figures the server sends (canned JSON in the documented shape).</summary>
public sealed class StatsRenderingTests
{
    private const string Mesh = """
        {"Time":"2026-11-26T08:40:00Z","WindowSeconds":30,"Services":[
          {"Name":"web","Instances":1,"Passing":1,"Warning":0,"Critical":0,"RequestsPerSecond":5,"SuccessRate":1,"P50Seconds":0.0012,"P99Seconds":0.004,"History":[]},
          {"Name":"orders","Instances":2,"Passing":1,"Warning":0,"Critical":1,"RequestsPerSecond":12.34,"SuccessRate":0.9,"P50Seconds":0.002,"P99Seconds":0.25,"History":[]},
          {"Name":"idle","Instances":1,"Passing":1,"Warning":0,"Critical":0,"RequestsPerSecond":0,"SuccessRate":null,"P50Seconds":null,"P99Seconds":null,"History":[]}],
         "Edges":[{"Source":"web","Destination":"orders","RequestsPerSecond":5,"SuccessRate":0.9}]}
        """;

    [Fact]
    public void Top_SortedByRps_BusiestFirstWithEveryFigure()
    {
        var lines = Render(StatsTables.Services(Parse(Mesh, CliJsonContext.Default.MeshStats), "rps", colors: false));

        var rows = lines.Where(l => l.StartsWith("web") || l.StartsWith("orders") || l.StartsWith("idle")).ToList();
        Assert.Equal(["orders", "web", "idle"], rows.Select(r => Columns(r)[0]));
        Assert.Equal(["orders", "12.3", "90.00%", "2.0ms", "250ms", "2", "1", "0", "1"], Columns(rows[0]));
        Assert.Equal(["idle", "0.0", "-", "-", "-", "1", "1", "0", "0"], Columns(rows[2]));
        Assert.DoesNotContain(lines, l => l.Contains('\u001b'));
    }

    [Fact]
    public void Top_SortedBySuccess_WorstFirstAndNoTrafficLast()
    {
        var lines = Render(StatsTables.Services(Parse(Mesh, CliJsonContext.Default.MeshStats), "success", colors: false));

        var order = lines.Select(l => Columns(l).FirstOrDefault()).Where(n => n is "web" or "orders" or "idle").ToList();
        Assert.Equal(["orders", "web", "idle"], order);
    }

    [Fact]
    public void Top_SortedByP99_SlowestFirst()
    {
        var services = StatsTables.Sort(Parse(Mesh, CliJsonContext.Default.MeshStats).Services, "p99");

        Assert.Equal(["orders", "web", "idle"], services.Select(s => s.Name));
    }

    [Fact]
    public void Stat_ShowsSignalsAndCallersAndCallees()
    {
        var service = Parse("""
            {"Name":"orders","Instances":2,"Passing":2,"Warning":0,"Critical":0,"RequestsPerSecond":4,"SuccessRate":0.995,"P50Seconds":0.0004,"P99Seconds":1.5,
             "Routes":[{"Route":"/api","RequestsPerSecond":4,"SuccessRate":0.995,"P50Seconds":0.0004,"P99Seconds":1.5}],
             "Callers":[{"Source":"web","Destination":"orders","RequestsPerSecond":4,"SuccessRate":0.995}],
             "Callees":[{"Source":"orders","Destination":"ledger","RequestsPerSecond":2,"SuccessRate":null}]}
            """, CliJsonContext.Default.ServiceStats);

        var lines = Render(StatsTables.Stat(service with { WindowSeconds = 60 }, colors: false));

        Assert.Contains(lines, l => Columns(l) is ["requests/s", "4.0"]);
        Assert.Contains(lines, l => Columns(l) is ["success", "99.50%"]);
        Assert.Contains(lines, l => Columns(l) is ["p50", "0.40ms"]);
        Assert.Contains(lines, l => Columns(l) is ["p99", "1.5s"]);
        Assert.Contains(lines, l => Columns(l) is ["caller", "web", "4.0", "99.50%"]);
        Assert.Contains(lines, l => Columns(l) is ["callee", "ledger", "2.0", "-"]);
        Assert.Contains(lines, l => l.Contains("over the last 60s"));
    }

    [Theory]
    [InlineData(0.00025, "0.25ms")]
    [InlineData(0.0042, "4.2ms")]
    [InlineData(0.13, "130ms")]
    [InlineData(2.5, "2.5s")]
    public void Latency_ReadsInTheUnitAHumanWouldPick(double seconds, string shown) =>
        Assert.Equal(shown, StatsTables.Latency(seconds));

    private static T Parse<T>(string json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) =>
        JsonSerializer.Deserialize(json, type) ?? throw new InvalidOperationException("null");

    private static List<string> Render(IRenderable renderable)
    {
        var text = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(text),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 200;
        console.Write(renderable);
        return [.. text.ToString().Split('\n').Select(l => l.TrimEnd())];
    }

    private static string[] Columns(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
}
