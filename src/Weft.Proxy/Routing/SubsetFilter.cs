using System.Text.RegularExpressions;
using Weft.Core.Mesh;

namespace Weft.Proxy.Routing;

/// <summary>
/// The subset filters Weft supports, a small part of Consul's bexpr: <c>Service.Meta.KEY == "VALUE"</c>,
/// <c>Service.Meta.KEY != "VALUE"</c>, <c>Service.Tags contains "TAG"</c>, joined with <c>and</c>.
/// </summary>
internal static partial class SubsetFilter
{
    [GeneratedRegex("""^\s*Service\.Meta\.([A-Za-z0-9_\-\.]+)\s*(==|!=)\s*"?([^"]*?)"?\s*$""")]
    private static partial Regex MetaClause();

    [GeneratedRegex("""^\s*Service\.Tags\s+contains\s+"?([^"]*?)"?\s*$""")]
    private static partial Regex TagClause();

    /// <exception cref="ConfigRejectedException">The filter uses something outside the supported subset.</exception>
    public static Func<MeshEndpoint, bool> Compile(string? filter, string where)
    {
        if (string.IsNullOrWhiteSpace(filter))
            return static _ => true;
        var clauses = new List<Func<MeshEndpoint, bool>>();
        foreach (var clause in filter.Split(" and ", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (MetaClause().Match(clause) is { Success: true } m)
            {
                var key = m.Groups[1].Value;
                var value = m.Groups[3].Value;
                var equal = m.Groups[2].Value == "==";
                clauses.Add(e => (e.Meta.TryGetValue(key, out var v) && v == value) == equal);
            }
            else if (TagClause().Match(clause) is { Success: true } t)
            {
                var tag = t.Groups[1].Value;
                clauses.Add(e => e.Tags.Contains(tag));
            }
            else
            {
                throw new ConfigRejectedException($"{where}: unsupported filter clause \"{clause}\" (use Service.Meta.KEY == \"VALUE\" or Service.Tags contains \"TAG\", joined with and)");
            }
        }

        return e =>
        {
            foreach (var c in clauses)
            {
                if (!c(e))
                    return false;
            }

            return true;
        };
    }
}
