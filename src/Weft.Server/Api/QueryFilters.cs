using Microsoft.AspNetCore.Http;
using Weft.Core.Catalog;
using Weft.Server.Registry;

namespace Weft.Server.Api;

/// <summary>The query parameters Consul's read endpoints share: <c>dc</c>, <c>tag</c>, <c>node-meta</c>, <c>passing</c>.</summary>
internal static class QueryFilters
{
    public static void RequireLocalDatacenter(HttpRequest request, ServerIdentity self)
    {
        if (request.Query.TryGetValue("dc", out var dc) && !string.IsNullOrEmpty(dc) && dc != self.Datacenter)
            throw ApiException.BadRequest($"No path to datacenter \"{dc}\"");
    }

    /// <summary>Instances carrying every <c>?tag=</c> given.</summary>
    public static Func<ServiceRecord, bool> Tags(HttpRequest request)
    {
        var tags = request.Query["tag"].Where(t => !string.IsNullOrEmpty(t)).ToArray();
        return tags.Length == 0 ? static _ => true : s => tags.All(t => s.Tags.Contains(t!));
    }

    /// <summary>Nodes whose meta has every <c>?node-meta=key:value</c> given.</summary>
    public static Func<NodeRecord?, bool> NodeMeta(HttpRequest request)
    {
        var pairs = new List<(string Key, string Value)>();
        foreach (var item in request.Query["node-meta"])
        {
            if (string.IsNullOrEmpty(item)) continue;
            var colon = item.IndexOf(':');
            if (colon <= 0)
                throw ApiException.BadRequest($"Invalid node-meta \"{item}\": use key:value");
            pairs.Add((item[..colon], item[(colon + 1)..]));
        }

        return pairs.Count == 0 ? static _ => true : n => n is not null && pairs.All(p => n.Meta.TryGetValue(p.Key, out var v) && v == p.Value);
    }

    /// <summary><c>?passing</c> and <c>?passing=true</c> filter; <c>?passing=false</c> does not.</summary>
    public static bool Passing(HttpRequest request)
    {
        if (!request.Query.TryGetValue("passing", out var value)) return false;
        var text = value.ToString();
        return text.Length == 0 || !bool.TryParse(text, out var flag) || flag;
    }
}
