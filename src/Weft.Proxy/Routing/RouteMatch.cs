using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Weft.Core.Config;

namespace Weft.Proxy.Routing;

/// <summary>A compiled <c>Match.HTTP</c>: every condition must hold. Regexes match the whole value, as Envoy's.</summary>
internal sealed class RouteMatch
{
    public static readonly RouteMatch Any = new();

    private static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(50);

    public string? PathExact { get; private init; }
    public string? PathPrefix { get; private init; }
    public Regex? PathRegex { get; private init; }
    public HeaderMatcher[] Headers { get; private init; } = [];
    public QueryMatcher[] Query { get; private init; } = [];
    public string[] Methods { get; private init; } = [];

    /// <summary>
    /// True when every request matches without looking at it: no condition, or only the prefix <c>/</c> (which every
    /// origin-form path has). The HTTP/1.1 fast path takes only such routes.
    /// </summary>
    public bool MatchesEverything => PathExact is null && PathRegex is null && Headers.Length == 0 && Query.Length == 0 && Methods.Length == 0
        && PathPrefix is null or "/";

    /// <summary>A short description for <c>/config</c>.</summary>
    public string Describe { get; private init; } = "*";

    public bool Matches(HttpRequest request)
    {
        var path = request.Path.Value ?? "/";
        if (PathExact is not null && !string.Equals(path, PathExact, StringComparison.Ordinal))
            return false;
        if (PathPrefix is not null && !path.StartsWith(PathPrefix, StringComparison.Ordinal))
            return false;
        if (PathRegex is not null && !PathRegex.IsMatch(path))
            return false;
        if (Methods.Length > 0 && !MethodMatches(request.Method))
            return false;
        foreach (var header in Headers)
        {
            if (!header.Matches(request.Headers))
                return false;
        }

        if (Query.Length > 0)
        {
            var query = request.Query;
            foreach (var q in Query)
            {
                if (!q.Matches(query))
                    return false;
            }
        }

        return true;
    }

    private bool MethodMatches(string method)
    {
        foreach (var m in Methods)
        {
            if (string.Equals(m, method, StringComparison.OrdinalIgnoreCase))
                return true;
        }

        return false;
    }

    /// <exception cref="ConfigRejectedException">A regex does not compile.</exception>
    public static RouteMatch Compile(ServiceRouteHttpMatch? http, string where)
    {
        if (http is null)
            return Any;
        var parts = new List<string>();
        if (http.PathExact is not null) parts.Add($"path == {http.PathExact}");
        if (http.PathPrefix is not null) parts.Add($"path ^= {http.PathPrefix}");
        if (http.PathRegex is not null) parts.Add($"path ~ {http.PathRegex}");
        var headers = new List<HeaderMatcher>();
        foreach (var h in http.Header ?? [])
        {
            headers.Add(new HeaderMatcher(h, h.Regex is null ? null : CompileRegex(h.Regex, $"{where} Header[{h.Name}].Regex")));
            parts.Add($"header {h.Name}");
        }

        var query = new List<QueryMatcher>();
        foreach (var q in http.QueryParam ?? [])
        {
            query.Add(new QueryMatcher(q, q.Regex is null ? null : CompileRegex(q.Regex, $"{where} QueryParam[{q.Name}].Regex")));
            parts.Add($"query {q.Name}");
        }

        if (http.Methods is { Count: > 0 }) parts.Add($"method in [{string.Join(',', http.Methods)}]");
        return new RouteMatch
        {
            PathExact = http.PathExact,
            PathPrefix = http.PathPrefix,
            PathRegex = http.PathRegex is null ? null : CompileRegex(http.PathRegex, $"{where} PathRegex"),
            Headers = [.. headers],
            Query = [.. query],
            Methods = http.Methods is null ? [] : [.. http.Methods],
            Describe = parts.Count == 0 ? "*" : string.Join(" and ", parts),
        };
    }

    private static Regex CompileRegex(string pattern, string where)
    {
        try
        {
            return new Regex($"^(?:{pattern})$", RegexOptions.CultureInvariant | RegexOptions.Compiled, RegexTimeout);
        }
        catch (ArgumentException e)
        {
            throw new ConfigRejectedException($"{where}: invalid regex \"{pattern}\": {e.Message}");
        }
    }
}

/// <summary>One <c>Header</c> condition: Present / Exact / Prefix / Suffix / Regex, optionally inverted.</summary>
internal sealed class HeaderMatcher(HeaderMatch match, Regex? regex)
{
    public bool Matches(IHeaderDictionary headers)
    {
        var values = headers[match.Name];
        return Evaluate(values) != match.Invert;
    }

    private bool Evaluate(StringValues values)
    {
        if (values.Count == 0)
            return false;
        var value = values.Count == 1 ? values[0] ?? "" : values.ToString();
        if (match.Exact is not null) return string.Equals(value, match.Exact, StringComparison.Ordinal);
        if (match.Prefix is not null) return value.StartsWith(match.Prefix, StringComparison.Ordinal);
        if (match.Suffix is not null) return value.EndsWith(match.Suffix, StringComparison.Ordinal);
        if (regex is not null) return regex.IsMatch(value);
        return true; // Present, or no condition: the header is there.
    }
}

/// <summary>One <c>QueryParam</c> condition: Present / Exact / Regex.</summary>
internal sealed class QueryMatcher(QueryParamMatch match, Regex? regex)
{
    public bool Matches(IQueryCollection query)
    {
        var values = query[match.Name];
        if (values.Count == 0)
            return false;
        var value = values[0] ?? "";
        if (match.Exact is not null) return string.Equals(value, match.Exact, StringComparison.Ordinal);
        if (regex is not null) return regex.IsMatch(value);
        return true;
    }
}

/// <summary>A snapshot the sidecar will not apply, and why (sent back to the control plane as the NACK reason).</summary>
internal sealed class ConfigRejectedException(string message) : Exception(message);
