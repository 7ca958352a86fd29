using System.Text;

namespace Weft.Bench.Proxy;

/// <summary>A plain-text table: a title, a header row, rows of cells, columns padded to their widest cell.</summary>
internal sealed class Table(string title, params string[] header)
{
    private readonly List<string[]> _rows = [];
    private readonly List<string> _notes = [];

    public void Row(params string[] cells) => _rows.Add(cells);

    /// <summary>
    /// Notes a target that could not run or failed, and records why in <paramref name="json"/>; true when it has no
    /// rounds to report, so the caller skips its row.
    /// </summary>
    public bool SkipUnusable(Target target, int roundsDone, IReadOnlyDictionary<string, string> failed, System.Text.Json.Nodes.JsonObject json)
    {
        if (target.Unavailable is { } why)
        {
            Note($"{target.Name}: {why}");
            json[target.Name] = new System.Text.Json.Nodes.JsonObject { ["unavailable"] = why };
            return true;
        }

        if (!failed.TryGetValue(target.Name, out var failure)) return false;
        Note($"{target.Name}: {failure}");
        if (roundsDone > 0) return false;
        json[target.Name] = new System.Text.Json.Nodes.JsonObject { ["failed"] = failure };
        return true;
    }

    /// <summary>A line spanning the table, e.g. a target that could not run.</summary>
    public void Note(string line) => _notes.Add(line);

    public override string ToString()
    {
        var widths = header.Select((h, i) => _rows.Select(r => i < r.Length ? r[i].Length : 0).Append(h.Length).Max()).ToArray();
        var text = new StringBuilder().AppendLine().AppendLine(title).AppendLine(new string('-', Math.Min(title.Length, 120)));
        void Line(string[] cells) =>
            text.AppendLine(("  " + string.Join("  ", cells.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i])))).TrimEnd());
        Line(header);
        foreach (var row in _rows) Line(row);
        foreach (var note in _notes) text.AppendLine("  " + note);
        return text.ToString();
    }

    public static string F(double value, int decimals = 0) => double.IsFinite(value) ? value.ToString($"F{decimals}", System.Globalization.CultureInfo.InvariantCulture) : "-";

    public static string Ratio(double value, double reference) => reference > 0 && double.IsFinite(value) && double.IsFinite(reference) ? F(value / reference, 2) + "x" : "-";

    public static string Mb(long kib) => kib > 0 ? F(kib / 1024.0, 1) : "-";
}
