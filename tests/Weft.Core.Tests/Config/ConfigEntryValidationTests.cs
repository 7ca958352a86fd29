using System.Text;
using Weft.Core.Config;

namespace Weft.Core.Tests.Config;

public sealed class ConfigEntryValidationTests
{
    private static string? Validate(string json) => ConfigEntryValidation.Validate(ConfigEntryJson.Parse(Encoding.UTF8.GetBytes(json)));

    [Theory]
    [InlineData("""{"Kind":"service-defaults","Name":"web","Protocol":"grpc"}""")]
    [InlineData("""{"Kind":"service-splitter","Name":"web","Splits":[{"Weight":90},{"Weight":10,"ServiceSubset":"v2"}]}""")]
    [InlineData("""{"Kind":"service-router","Name":"web","Routes":[{"Match":{"HTTP":{"PathRegex":"^/api/v[0-9]+"}},"Destination":{"NumRetries":2,"RetryOn":["5xx"],"RequestTimeout":"2s"}}]}""")]
    [InlineData("""{"Kind":"service-resolver","Name":"web","LoadBalancer":{"Policy":"ring_hash","HashPolicies":[{"Field":"header","FieldValue":"x-user"}]}}""")]
    public void GoodEntries_Pass(string json) => Assert.Null(Validate(json));

    [Theory]
    [InlineData("""{"Kind":"service-defaults","Name":""}""", "Name is required")]
    [InlineData("""{"Kind":"service-defaults","Name":"web","Protocol":"smtp"}""", "Protocol \"smtp\"")]
    [InlineData("""{"Kind":"service-defaults","Name":"web","UpstreamConfig":{"Defaults":{"ConnectTimeoutMs":-1}}}""", "ConnectTimeoutMs must not be negative")]
    [InlineData("""{"Kind":"service-defaults","Name":"web","UpstreamConfig":{"Defaults":{"Limits":{"MaxConnections":-5}}}}""", "MaxConnections must not be negative")]
    [InlineData("""{"Kind":"service-splitter","Name":"web","Splits":[{"Weight":90},{"Weight":20}]}""", "must sum to 100")]
    [InlineData("""{"Kind":"service-router","Name":"web","Routes":[{"Match":{"HTTP":{"PathRegex":"(unclosed"}}}]}""", "not a valid regular expression")]
    [InlineData("""{"Kind":"service-router","Name":"web","Routes":[{"Destination":{"RequestTimeout":"-1s"}}]}""", "RequestTimeout must not be negative")]
    [InlineData("""{"Kind":"service-resolver","Name":"web","LoadBalancer":{"Policy":"fastest"}}""", "Policy \"fastest\"")]
    public void BadEntries_SayWhatIsWrong(string json, string expected) =>
        Assert.Contains(expected, Validate(json));
}
