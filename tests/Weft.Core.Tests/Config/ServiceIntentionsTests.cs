using System.Text;
using Weft.Core.Config;

namespace Weft.Core.Tests.Config;

public sealed class ServiceIntentionsTests
{
    private static ServiceIntentionsEntry Parse(string json) => (ServiceIntentionsEntry)ConfigEntryJson.Parse(Encoding.UTF8.GetBytes(json));

    private static string? Validate(string json) => ConfigEntryValidation.Validate(Parse(json));

    private static ServiceIntentionsEntry Entry(string destination, params (string Source, string Action)[] sources) => new ServiceIntentionsEntry
    {
        Kind = ConfigKinds.ServiceIntentions,
        Name = destination,
        Sources = [.. sources.Select(s => new SourceIntention { Name = s.Source, Action = s.Action })],
    }.Normalized();

    private static bool Allowed(string? source, string destination, bool defaultAllow, params ServiceIntentionsEntry[] entries)
    {
        var byName = entries.ToDictionary(e => e.Name);
        return IntentionDecision.AllowsConnection(IntentionDecision.Find(source, destination, n => byName.GetValueOrDefault(n)), defaultAllow);
    }

    [Theory]
    [InlineData("""{"Kind":"service-intentions","Name":"payments","Sources":[{"Name":"orders","Action":"allow"},{"Name":"*","Action":"deny"}]}""")]
    [InlineData("""{"Kind":"service-intentions","Name":"*","Sources":[{"Name":"*","Action":"allow","Description":"open mesh"}]}""")]
    [InlineData("""{"Kind":"service-intentions","Name":"api","Sources":[{"Name":"web","Permissions":[{"Action":"deny","HTTP":{"PathPrefix":"/admin"}},{"Action":"allow","HTTP":{"PathRegex":"/v[0-9]+/.*","Methods":["GET","HEAD"],"Header":[{"Name":"x-team","Exact":"blue"},{"Name":"x-debug","Present":true,"Invert":true}]}}]}]}""")]
    public void GoodEntries_Pass(string json) => Assert.Null(Validate(json));

    [Theory]
    [InlineData("""{"Kind":"service-intentions","Name":"payments","Sources":[{"Name":"orders"}]}""", "set exactly one of Action (an L4 intention) or Permissions")]
    [InlineData("""{"Kind":"service-intentions","Name":"payments","Sources":[{"Name":"orders","Action":"allow","Permissions":[{"Action":"deny","HTTP":{"PathExact":"/x"}}]}]}""", "set exactly one of Action")]
    [InlineData("""{"Kind":"service-intentions","Name":"payments","Sources":[{"Name":"orders","Action":"permit"}]}""", "Sources[0].Action \"permit\" must be \"allow\" or \"deny\"")]
    [InlineData("""{"Kind":"service-intentions","Name":"payments","Sources":[{"Name":"orders","Action":"allow"},{"Name":"ORDERS","Action":"deny"}]}""", "source \"ORDERS\" is listed more than once")]
    [InlineData("""{"Kind":"service-intentions","Name":"payments","Sources":[{"Name":"","Action":"allow"}]}""", "Sources[0].Name is required")]
    [InlineData("""{"Kind":"service-intentions","Name":"payments","Sources":[{"Name":"orders","Action":"allow","Type":"ip"}]}""", "Type \"ip\" is not supported")]
    [InlineData("""{"Kind":"service-intentions","Name":"api","Sources":[{"Name":"web","Permissions":[{"Action":"deny","HTTP":{"PathPrefix":"/a","PathExact":"/b"}}]}]}""", "set at most one of PathExact, PathPrefix, PathRegex")]
    [InlineData("""{"Kind":"service-intentions","Name":"api","Sources":[{"Name":"web","Permissions":[{"Action":"deny","HTTP":{"PathRegex":"(unclosed"}}]}]}""", "Permissions[0].HTTP.PathRegex \"(unclosed\" is not a valid regular expression")]
    [InlineData("""{"Kind":"service-intentions","Name":"api","Sources":[{"Name":"web","Permissions":[{"Action":"deny","HTTP":{"Methods":["FETCH"]}}]}]}""", "Methods: \"FETCH\" is not one of GET")]
    [InlineData("""{"Kind":"service-intentions","Name":"api","Sources":[{"Name":"web","Permissions":[{"Action":"deny","HTTP":{"PathPrefix":"admin"}}]}]}""", "PathPrefix \"admin\" must start with '/'")]
    [InlineData("""{"Kind":"service-intentions","Name":"api","Sources":[{"Name":"web","Permissions":[{"Action":"deny","HTTP":{}}]}]}""", "HTTP must set a path")]
    [InlineData("""{"Kind":"service-intentions","Name":"api","Sources":[{"Name":"web","Permissions":[{"Action":"deny"}]}]}""", "Permissions[0].HTTP is required")]
    [InlineData("""{"Kind":"service-intentions","Name":"api","Sources":[{"Name":"web","Permissions":[{"HTTP":{"PathExact":"/x"}}]}]}""", "Permissions[0].Action is required")]
    [InlineData("""{"Kind":"service-intentions","Name":"api","Sources":[{"Name":"web","Permissions":[{"Action":"deny","HTTP":{"Header":[{"Name":"x","Exact":"a","Prefix":"b"}]}}]}]}""", "set at most one of Present, Exact, Prefix, Suffix, Regex")]
    public void BadEntries_SayWhatIsWrong(string json, string expected) => Assert.Contains(expected, Validate(json));

    [Fact]
    public void Parse_ComputesPrecedenceAndType_IgnoringWhatWasSent_AndSortsHighestFirst()
    {
        var entry = Parse("""{"Kind":"service-intentions","Name":"payments","Sources":[{"Name":"*","Action":"deny","Precedence":99},{"Name":"orders","Action":"allow"}]}""");
        Assert.Equal(["orders", "*"], entry.Sources!.Select(s => s.Name));
        Assert.Equal([9, 8], entry.Sources!.Select(s => s.Precedence));
        Assert.All(entry.Sources!, s => Assert.Equal("consul", s.Type));
        var wildcard = Parse("""{"Kind":"service-intentions","Name":"*","Sources":[{"Name":"*","Action":"deny"},{"Name":"orders","Action":"allow"}]}""");
        Assert.Equal([6, 5], wildcard.Sources!.Select(s => s.Precedence));
    }

    [Fact]
    public void Precedence_ExactSourceAndDestination_BeatsEveryWildcard()
    {
        var exact = Entry("payments", ("orders", "allow"), ("*", "deny"));
        var any = Entry("*", ("orders", "deny"), ("*", "deny"));
        Assert.True(Allowed("orders", "payments", defaultAllow: false, exact, any));
        Assert.False(Allowed("billing", "payments", defaultAllow: true, exact, any));
    }

    [Fact]
    public void Precedence_ExactDestinationWithAnySource_BeatsAnyDestinationWithExactSource()
    {
        // 8 (payments <- *) outranks 6 (* <- orders).
        var exact = Entry("payments", ("*", "allow"));
        var any = Entry("*", ("orders", "deny"));
        Assert.True(Allowed("orders", "payments", defaultAllow: false, exact, any));
        Assert.False(Allowed("orders", "billing", defaultAllow: true, exact, any));
    }

    [Fact]
    public void Precedence_AnyDestinationWithExactSource_BeatsAnyToAny()
    {
        var any = Entry("*", ("orders", "allow"), ("*", "deny"));
        Assert.True(Allowed("orders", "payments", defaultAllow: false, any));
        Assert.False(Allowed("billing", "payments", defaultAllow: true, any));
    }

    [Fact]
    public void NoIntention_FallsToTheDefault()
    {
        var other = Entry("billing", ("orders", "deny"));
        Assert.True(Allowed("orders", "payments", defaultAllow: true, other));
        Assert.False(Allowed("orders", "payments", defaultAllow: false, other));
    }

    [Fact]
    public void UnknownCaller_MatchesOnlyWildcardSources()
    {
        var exact = Entry("payments", ("orders", "allow"));
        Assert.False(Allowed(null, "payments", defaultAllow: false, exact));
        Assert.True(Allowed(null, "payments", defaultAllow: false, Entry("payments", ("orders", "allow"), ("*", "allow"))));
    }

    [Fact]
    public void L7Intention_IsDenyInTheL4View_AsConsul()
    {
        var entry = Parse("""{"Kind":"service-intentions","Name":"api","Sources":[{"Name":"web","Permissions":[{"Action":"allow","HTTP":{"PathPrefix":"/"}}]}]}""");
        Assert.False(Allowed("web", "api", defaultAllow: true, entry));
    }

    [Fact]
    public void Serialize_RoundTrips_WithConsulFieldNames()
    {
        var json = Encoding.UTF8.GetString(ConfigEntryJson.Serialize(Parse(
            """{"Kind":"service-intentions","Name":"api","Meta":{"team":"x"},"Sources":[{"Name":"web","Description":"d","Permissions":[{"Action":"deny","HTTP":{"PathPrefix":"/admin","Methods":["POST"]}}]}]}""")));
        Assert.Contains("\"HTTP\":{\"PathPrefix\":\"/admin\",\"Methods\":[\"POST\"]}", json);
        Assert.Contains("\"Precedence\":9", json);
        Assert.Contains("\"Type\":\"consul\"", json);
        Assert.DoesNotContain("IsL7", json);
    }
}
