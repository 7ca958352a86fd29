using System.Text;
using System.Text.Json.Nodes;

namespace Weft.Bench.Registry;

/// <summary>Progress to stderr as it happens; the table to stdout at the end.</summary>
internal sealed class Report
{
    private readonly StringBuilder _table = new();

    public void Progress(string line) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}");

    public void Section(string title) => _table.AppendLine().AppendLine(title).AppendLine(new string('-', Math.Min(title.Length, 100)));

    public void Row(string name, string value, string note) =>
        _table.AppendLine($"  {name,-40} {value,-26} {note}".TrimEnd());

    public string Table => _table.ToString();
}

internal static class Json
{
    public static JsonArray Array(IEnumerable<double> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(Math.Round(v, 3))).ToArray());
}
