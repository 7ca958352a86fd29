using System.Globalization;
using System.Text;

namespace Weft.Core.Metrics;

/// <summary>
/// Writes the Prometheus text exposition format (0.0.4). Callers write one family at a time — <see cref="Family"/>
/// then its samples — so that every family's samples stay together, as the format requires.
/// </summary>
internal sealed class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder _text = new(4096);

    public void Family(string name, string type, string help)
    {
        _text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
    }

    public void Sample(string name, double value) => Sample(name, [], value);

    public void Sample(string name, ReadOnlySpan<(string Name, string Value)> labels, double value, string? le = null)
    {
        _text.Append(name);
        if (labels.Length > 0 || le is not null)
        {
            _text.Append('{');
            var first = true;
            foreach (var (label, labelValue) in labels)
            {
                if (!first)
                    _text.Append(',');
                first = false;
                Label(label, labelValue);
            }

            if (le is not null)
            {
                if (!first)
                    _text.Append(',');
                Label("le", le);
            }

            _text.Append('}');
        }

        _text.Append(' ').Append(Format(value)).Append('\n');
    }

    /// <summary>The <c>_bucket</c> (cumulative), <c>_sum</c> and <c>_count</c> samples of one histogram series.</summary>
    public void Histogram(string name, ReadOnlySpan<(string Name, string Value)> labels, Histogram histogram)
    {
        var bounds = histogram.BoundsSeconds;
        long cumulative = 0;
        for (var i = 0; i < bounds.Length; i++)
        {
            cumulative += histogram.Bucket(i);
            Sample(name + "_bucket", labels, cumulative, Format(bounds[i]));
        }

        cumulative += histogram.Bucket(bounds.Length);
        Sample(name + "_bucket", labels, cumulative, "+Inf");
        Sample(name + "_sum", labels, histogram.SumSeconds);
        Sample(name + "_count", labels, cumulative);
    }

    public override string ToString() => _text.ToString();

    private void Label(string name, string value)
    {
        _text.Append(name).Append("=\"");
        foreach (var c in value)
        {
            _ = c switch
            {
                '\\' => _text.Append("\\\\"),
                '"' => _text.Append("\\\""),
                '\n' => _text.Append("\\n"),
                _ => _text.Append(c),
            };
        }

        _text.Append('"');
    }

    private static string Format(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : double.IsNaN(value) ? "NaN"
        : value.ToString("R", CultureInfo.InvariantCulture);
}
