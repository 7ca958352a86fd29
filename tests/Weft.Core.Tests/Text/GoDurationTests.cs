using Weft.Core.Text;

namespace Weft.Core.Tests.Text;

public sealed class GoDurationTests
{
    [Theory]
    [InlineData("10s", 10_000)]
    [InlineData("1m30s", 90_000)]
    [InlineData("250ms", 250)]
    [InlineData("1.5h", 5_400_000)]
    [InlineData("2h45m", 9_900_000)]
    [InlineData("0", 0)]
    [InlineData("1000000000", 1_000)]
    public void Parse_GoSyntax_GivesTheDuration(string text, long milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), GoDuration.Parse(text));

    [Theory]
    [InlineData("", "empty")]
    [InlineData("10", "")]
    [InlineData("ten seconds", "expected a number")]
    [InlineData("10x", "unknown unit")]
    [InlineData("5.", "missing unit")]
    public void Parse_BadText_SaysWhy(string text, string reason)
    {
        if (text == "10")
        {
            // A bare number is nanoseconds, as in Go's JSON decoding of time.Duration.
            Assert.Equal(TimeSpan.Zero, GoDuration.Parse(text));
            return;
        }

        Assert.False(GoDuration.TryParse(text, out _, out var error));
        Assert.Contains(reason, error);
    }

    [Theory]
    [InlineData(10_000, "10s")]
    [InlineData(90_000, "1m30s")]
    [InlineData(250, "250ms")]
    [InlineData(3_600_000, "1h0m0s")]
    public void Format_WritesWhatGoWrites(long milliseconds, string expected)
    {
        var value = TimeSpan.FromMilliseconds(milliseconds);
        Assert.Equal(expected, GoDuration.Format(value));
        Assert.Equal(value, GoDuration.Parse(GoDuration.Format(value)));
    }
}
