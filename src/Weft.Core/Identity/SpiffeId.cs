using System.Diagnostics.CodeAnalysis;

namespace Weft.Core.Identity;

/// <summary>
/// A workload identity: <c>spiffe://&lt;trust-domain&gt;/ns/&lt;namespace&gt;/svc/&lt;service&gt;</c>, carried as the URI SAN of
/// every sidecar certificate. The namespace is <see cref="DefaultNamespace"/> until namespaces exist.
/// </summary>
public sealed record SpiffeId(string TrustDomain, string Namespace, string Service)
{
    public const string DefaultNamespace = "default";

    public static SpiffeId ForService(string trustDomain, string service) => new(trustDomain, DefaultNamespace, service);

    public Uri ToUri() => new(ToString());

    public override string ToString() => $"spiffe://{TrustDomain}/ns/{Namespace}/svc/{Service}";

    /// <summary>Parses exactly the Weft shape; anything else (other paths, query, fragment, user info, port) is refused.</summary>
    public static bool TryParse(string? value, [NotNullWhen(true)] out SpiffeId? id)
    {
        id = null;
        if (string.IsNullOrEmpty(value) || !value.StartsWith("spiffe://", StringComparison.Ordinal))
            return false;
        var rest = value["spiffe://".Length..];
        var parts = rest.Split('/');
        if (parts.Length != 5 || parts[1] != "ns" || parts[3] != "svc")
            return false;
        if (!IsSegment(parts[0]) || !IsSegment(parts[2]) || !IsSegment(parts[4]))
            return false;
        if (parts[0].Contains(':') || parts[0].Contains('@'))
            return false;
        id = new SpiffeId(parts[0].ToLowerInvariant(), parts[2], parts[4]);
        return true;
    }

    private static bool IsSegment(string segment) =>
        segment.Length > 0 && segment.AsSpan().IndexOfAny("?#%") < 0 && segment != "." && segment != "..";
}
