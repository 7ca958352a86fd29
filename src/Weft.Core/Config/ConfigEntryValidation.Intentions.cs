namespace Weft.Core.Config;

public static partial class ConfigEntryValidation
{
    /// <summary>The methods a permission may name (RFC 9110 and PATCH), upper case as Consul requires.</summary>
    public static readonly IReadOnlyList<string> HttpMethods = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];

    private static string? Intentions(ServiceIntentionsEntry e)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < (e.Sources?.Count ?? 0); i++)
        {
            var source = e.Sources![i];
            var where = $"Sources[{i}]";
            if (string.IsNullOrWhiteSpace(source.Name)) return $"{where}.Name is required (a service name, or * for any)";
            if (source.Name.Contains('/')) return $"{where}.Name \"{source.Name}\" must not contain '/'";
            if (!seen.Add(source.Name)) return $"{where}: source \"{source.Name}\" is listed more than once";
            if (source.Type is { Length: > 0 } type && type != IntentionSourceTypes.Consul)
                return $"{where}.Type \"{type}\" is not supported: only \"consul\"";
            var hasAction = !string.IsNullOrEmpty(source.Action);
            var hasPermissions = source.Permissions is { Count: > 0 };
            if (hasAction == hasPermissions)
                return $"{where} (\"{source.Name}\"): set exactly one of Action (an L4 intention) or Permissions (an L7 intention)";
            if (hasAction && Action(source.Action, $"{where}.Action") is { } actionError) return actionError;
            for (var p = 0; p < (source.Permissions?.Count ?? 0); p++)
            {
                if (Permission(source.Permissions![p], $"{where}.Permissions[{p}]") is { } error) return error;
            }
        }

        return null;
    }

    private static string? Action(string? action, string where) =>
        action is IntentionActions.Allow or IntentionActions.Deny ? null : $"{where} \"{action}\" must be \"allow\" or \"deny\"";

    private static string? Permission(IntentionPermission p, string where)
    {
        if (string.IsNullOrEmpty(p.Action)) return $"{where}.Action is required (\"allow\" or \"deny\")";
        if (Action(p.Action, $"{where}.Action") is { } actionError) return actionError;
        if (p.Http is not { } http) return $"{where}.HTTP is required";
        var paths = (http.PathExact is not null ? 1 : 0) + (http.PathPrefix is not null ? 1 : 0) + (http.PathRegex is not null ? 1 : 0);
        if (paths > 1) return $"{where}.HTTP: set at most one of PathExact, PathPrefix, PathRegex";
        if (paths == 0 && http.Methods is not { Count: > 0 } && http.Header is not { Count: > 0 })
            return $"{where}.HTTP must set a path (PathExact, PathPrefix or PathRegex), Methods or Header";
        if (http.PathExact is { } exact && !exact.StartsWith('/')) return $"{where}.HTTP.PathExact \"{exact}\" must start with '/'";
        if (http.PathPrefix is { } prefix && !prefix.StartsWith('/')) return $"{where}.HTTP.PathPrefix \"{prefix}\" must start with '/'";
        if (Regex(http.PathRegex, $"{where}.HTTP.PathRegex") is { } pathError) return pathError;
        var methods = new HashSet<string>(StringComparer.Ordinal);
        foreach (var method in http.Methods ?? [])
        {
            if (!HttpMethods.Contains(method)) return $"{where}.HTTP.Methods: \"{method}\" is not one of {string.Join(", ", HttpMethods)}";
            if (!methods.Add(method)) return $"{where}.HTTP.Methods: \"{method}\" is listed more than once";
        }

        for (var i = 0; i < (http.Header?.Count ?? 0); i++)
        {
            var h = http.Header![i];
            var at = $"{where}.HTTP.Header[{i}]";
            if (string.IsNullOrWhiteSpace(h.Name)) return $"{at}.Name is required";
            var kinds = (h.Present ? 1 : 0) + (h.Exact is not null ? 1 : 0) + (h.Prefix is not null ? 1 : 0) + (h.Suffix is not null ? 1 : 0) + (h.Regex is not null ? 1 : 0);
            if (kinds > 1) return $"{at} (\"{h.Name}\"): set at most one of Present, Exact, Prefix, Suffix, Regex";
            if (Regex(h.Regex, $"{at}.Regex") is { } error) return error;
        }

        return null;
    }
}
