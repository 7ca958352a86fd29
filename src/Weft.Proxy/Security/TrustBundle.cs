using System.Collections.Immutable;
using System.Security.Cryptography.X509Certificates;
using Weft.Core.Identity;
using Weft.Proxy.Transport;

namespace Weft.Proxy.Security;

/// <summary>
/// What this sidecar trusts: the mesh CA's roots (every root the server lists, so both sides of a rotation validate)
/// and their intermediates (cross-signed roots among them), for one trust domain. Immutable; swapped whole.
/// </summary>
internal sealed class TrustBundle
{
    public TrustBundle(string trustDomain, string activeRootId, IEnumerable<X509Certificate2> roots, IEnumerable<X509Certificate2> intermediates, ulong index = 0)
    {
        TrustDomain = trustDomain.ToLowerInvariant();
        ActiveRootId = activeRootId;
        Roots = [.. roots];
        Intermediates = [.. intermediates];
        Index = index;
        if (Roots.IsEmpty)
            throw new ArgumentException("a trust bundle needs at least one root", nameof(roots));
    }

    public string TrustDomain { get; }
    public string ActiveRootId { get; }
    public ImmutableArray<X509Certificate2> Roots { get; }
    public ImmutableArray<X509Certificate2> Intermediates { get; }

    /// <summary>The roots endpoint's <c>X-Consul-Index</c> this bundle came from (0 when not from the server).</summary>
    public ulong Index { get; }

    /// <summary>
    /// Checks a peer's certificate: it chains (through the intermediates the peer presented or the bundle holds) to one
    /// of the roots at <paramref name="now"/>, and carries a SPIFFE id in this trust domain — of
    /// <paramref name="expectedService"/> when given. Returns the id, or null with the reason.
    /// </summary>
    public SpiffeId? Validate(X509Certificate2 leaf, X509Certificate2Collection? presented, DateTimeOffset now, string? expectedService, out string? error)
    {
        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.CustomTrustStore.AddRange(Roots.ToArray());
        policy.ExtraStore.AddRange(Intermediates.ToArray());
        if (presented is not null)
            policy.ExtraStore.AddRange(presented);
        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.VerificationTimeIgnored = false;
        policy.VerificationTime = now.UtcDateTime;
        try
        {
            if (!chain.Build(leaf))
            {
                error = "certificate does not chain to the mesh CA at " + now.ToString("O") + ": "
                    + string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
                return null;
            }
        }
        finally
        {
            foreach (var element in chain.ChainElements)
            {
                if (!ReferenceEquals(element.Certificate, leaf))
                    element.Certificate.Dispose();
            }
        }

        var id = PeerIdentity.FromCertificate(leaf);
        if (id is null)
        {
            error = "certificate carries no SPIFFE id";
            return null;
        }

        if (!string.Equals(id.TrustDomain, TrustDomain, StringComparison.Ordinal))
        {
            error = $"{id} is not in trust domain {TrustDomain}";
            return null;
        }

        if (expectedService is not null && !string.Equals(id.Service, expectedService, StringComparison.Ordinal))
        {
            error = $"{id} is not service \"{expectedService}\"";
            return null;
        }

        error = null;
        return id;
    }
}
