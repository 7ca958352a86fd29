using Microsoft.AspNetCore.Http;
using Weft.Core.Config;
using Weft.Core.Mesh;
using Weft.Proxy.Routing;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Routing;

public sealed class RouteMatchTests
{
    private static HttpRequest Request(string method, string path, string query = "", params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.Path = path;
        context.Request.QueryString = new QueryString(query);
        foreach (var (name, value) in headers)
            context.Request.Headers[name] = value;
        return context.Request;
    }

    [Fact]
    public void Matches_PathRegexIsAnchoredToTheWholePath()
    {
        var match = RouteMatch.Compile(new ServiceRouteHttpMatch { PathRegex = "/users/[0-9]+" }, "test");

        Assert.True(match.Matches(Request("GET", "/users/42")));
        Assert.False(match.Matches(Request("GET", "/users/42/orders")));
        Assert.False(match.Matches(Request("GET", "/v2/users/42")));
    }

    [Fact]
    public void Matches_HeadersMethodsAndQuery_AllMustHold()
    {
        var match = RouteMatch.Compile(new ServiceRouteHttpMatch
        {
            PathExact = "/pay",
            Methods = ["POST", "PUT"],
            Header =
            [
                new HeaderMatch { Name = "x-env", Suffix = "-canary" },
                new HeaderMatch { Name = "x-debug", Present = true, Invert = true },
            ],
            QueryParam = [new QueryParamMatch { Name = "v", Regex = "[12]" }],
        }, "test");

        Assert.True(match.Matches(Request("POST", "/pay", "?v=2", ("x-env", "eu-canary"))));
        Assert.False(match.Matches(Request("GET", "/pay", "?v=2", ("x-env", "eu-canary"))));
        Assert.False(match.Matches(Request("POST", "/pay", "?v=3", ("x-env", "eu-canary"))));
        Assert.False(match.Matches(Request("POST", "/pay", "?v=2", ("x-env", "eu"))));
        Assert.False(match.Matches(Request("POST", "/pay", "?v=2", ("x-env", "eu-canary"), ("x-debug", "1"))));
        Assert.False(match.Matches(Request("POST", "/pay/", "?v=2", ("x-env", "eu-canary"))));
    }

    [Fact]
    public void Compile_InvalidHeaderRegex_SaysWhere()
    {
        var error = Assert.Throws<ConfigRejectedException>(() =>
            RouteMatch.Compile(new ServiceRouteHttpMatch { Header = [new HeaderMatch { Name = "x-a", Regex = "(" }] }, "service-router \"web\" Routes[2]"));

        Assert.StartsWith("service-router \"web\" Routes[2] Header[x-a].Regex: invalid regex \"(\"", error.Message);
    }

    [Fact]
    public void SubsetFilter_MetaEqualityAndTagsJoinedWithAnd()
    {
        var filter = SubsetFilter.Compile("Service.Meta.version == \"v2\" and Service.Tags contains \"canary\"", "test");
        var v2Canary = Mesh.Endpoint("a", Mesh.NoApp, false, ("version", "v2")) with { Tags = ["canary"] };
        var v2 = Mesh.Endpoint("b", Mesh.NoApp, false, ("version", "v2"));
        var v1Canary = Mesh.Endpoint("c", Mesh.NoApp, false, ("version", "v1")) with { Tags = ["canary"] };

        Assert.True(filter(v2Canary));
        Assert.False(filter(v2));
        Assert.False(filter(v1Canary));
        Assert.True(SubsetFilter.Compile("Service.Meta.version != \"v1\"", "test")(v2));
    }
}
