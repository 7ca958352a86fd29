using System.Globalization;
using System.Text.Json.Nodes;

namespace Weft.Bench.Proxy;

/// <summary>
/// Ratios of two targets taken within each round, where their runs were next to each other, rather than of their
/// medians over the run. The shared cores of this VM switch between a fast and a slow regime every minute or so, and a
/// ratio of medians can pair one target's fast rounds with the other's slow ones; a ratio within one round cannot, and
/// the spread of those ratios says how far a run's figure is to be trusted.
/// </summary>
internal static class Paired
{
    /// <summary>A over B of <paramref name="field"/> in each round both ran (the rounds' <c>round</c> numbers).</summary>
    public static List<double> Ratios(JsonNode? part, string a, string b, string field) => Ratios(Rounds(part?[a], field), Rounds(part?[b], field));

    /// <summary>A's value over B's in each round both have one (finite values, B's above zero).</summary>
    public static List<double> Ratios(IEnumerable<(int Round, double Value)> a, IEnumerable<(int Round, double Value)> b)
    {
        var ofB = new Dictionary<int, double>();
        foreach (var (round, value) in b)
            ofB[round] = value;
        var ratios = new List<double>();
        foreach (var (round, value) in a)
        {
            if (double.IsFinite(value) && ofB.TryGetValue(round, out var reference) && reference > 0 && double.IsFinite(reference))
                ratios.Add(value / reference);
        }

        return ratios;
    }

    /// <summary>"0.95x (0.71-1.15, 5 rounds)": the median of the per-round ratios and their range; "-" without any.</summary>
    public static string Describe(IReadOnlyList<double> ratios) =>
        ratios.Count == 0 ? "-"
            : ratios.Count == 1 ? Table.F(ratios[0], 2) + "x (1 round)"
            : $"{Table.F(Weft.Bench.Stats.Median(ratios), 2)}x ({Table.F(ratios.Min(), 2)}-{Table.F(ratios.Max(), 2)}, {ratios.Count} rounds)";

    public static string Describe(JsonNode? part, string a, string b, string field) => Describe(Ratios(part, a, b, field));

    private static IEnumerable<(int Round, double Value)> Rounds(JsonNode? target, string field)
    {
        if (target?["rounds"] is not JsonArray rounds)
            yield break;
        foreach (var r in rounds)
        {
            if (r?["round"] is JsonValue round && r[field] is JsonValue v
                && double.TryParse(v.ToJsonString(), CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
                yield return ((int)round.GetValue<int>(), value);
        }
    }
}
