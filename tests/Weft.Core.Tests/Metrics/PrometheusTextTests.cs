using Weft.Core.Metrics;
using Weft.Tests.Shared;

namespace Weft.Core.Tests.Metrics;

public sealed class PrometheusTextTests
{
    [Fact]
    public async Task Histogram_CountsEachObservationInTheFirstBucketAtOrAboveIt_Cumulatively()
    {
        var histogram = new Histogram();
        foreach (var seconds in new[] { 0.00005, 0.0001, 0.000101, 0.3, 30, 31 })
            histogram.Observe(TimeSpan.FromSeconds(seconds));
        var text = new PrometheusText();
        text.Family("test_duration_seconds", "histogram", "Test.");
        text.Histogram("test_duration_seconds", [("route", "a")], histogram);

        var samples = PromText.Parse(text.ToString());

        double Bucket(string le) => samples.Value("test_duration_seconds_bucket", ("le", le));
        Assert.Equal(2, Bucket("0.0001"));
        Assert.Equal(3, Bucket("0.00025"));
        Assert.Equal(3, Bucket("0.25"));
        Assert.Equal(4, Bucket("0.5"));
        Assert.Equal(4, Bucket("10"));
        Assert.Equal(5, Bucket("30"));
        Assert.Equal(6, Bucket("+Inf"));
        Assert.Equal(6, samples.Value("test_duration_seconds_count"));
        Assert.Equal(61.300251, samples.Value("test_duration_seconds_sum"), 6);
        Assert.Equal(Histogram.LatencyBoundsSeconds.Length + 1, samples.Find("test_duration_seconds_bucket").Count);
        await PromText.AssertPromtoolAcceptsAsync(text.ToString());
    }

    [Fact]
    public async Task LabelValues_AreEscaped_AndReadBackUnchanged()
    {
        const string awkward = "a \"quoted\" back\\slash\nand newline";
        var text = new PrometheusText();
        text.Family("test_things_total", "counter", "Test.");
        text.Sample("test_things_total", [("name", awkward)], 3);

        var sample = Assert.Single(PromText.Parse(text.ToString()));

        Assert.Equal(awkward, sample.Labels["name"]);
        Assert.Equal(3, sample.Value);
        await PromText.AssertPromtoolAcceptsAsync(text.ToString());
    }
}
