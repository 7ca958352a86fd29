using System.Collections.Immutable;

namespace Weft.Core.Catalog;

/// <summary>
/// One root of the mesh's certificate authority, kept in the catalog so it is durable, indexed and watched as
/// every other record. Certificates are PEM. The signing key is kept only while the root is active: once rotated
/// out, a root only has to stay trusted until no certificate it signed can still be valid.
/// </summary>
public sealed record CaRootRecord
{
    /// <summary>The root certificate's SHA-1 fingerprint as colon-separated hex, Consul's root ID.</summary>
    public required string Id { get; init; }

    public required string Name { get; init; }

    /// <summary>The root certificate's serial number (generated roots fit 63 bits, as Consul's).</summary>
    public ulong SerialNumber { get; init; }

    /// <summary>The Subject Key Identifier of the certificate that signs leaves, colon-separated hex.</summary>
    public required string SigningKeyId { get; init; }

    public DateTimeOffset NotBefore { get; init; }
    public DateTimeOffset NotAfter { get; init; }
    public required string RootCert { get; init; }

    /// <summary>
    /// Certificates between a leaf and this root or an older one still trusted: the operator's intermediate chain,
    /// and the cross-signed certificates that let verifiers holding only an older root trust new leaves.
    /// </summary>
    public ImmutableArray<string> IntermediateCerts { get; init; } = [];

    public bool Active { get; init; }

    /// <summary>The certificate that signs leaves: the root itself, or the operator's intermediate.</summary>
    public required string SigningCert { get; init; }

    /// <summary>The signing key as PKCS#8 PEM while the root is active; empty once it is rotated out.</summary>
    public string SigningKey { get; init; } = "";

    public string PrivateKeyType { get; init; } = "ec";
    public int PrivateKeyBits { get; init; } = 256;

    /// <summary>"generated" or "operator".</summary>
    public string Source { get; init; } = "generated";

    /// <summary>The longest leaf lifetime this root has signed with, so its last leaf's expiry is known.</summary>
    public TimeSpan MaxLeafTtl { get; init; }

    /// <summary>Set when the root is rotated out: no leaf it signed is valid after this; then it is pruned.</summary>
    public DateTimeOffset? LeavesExpireBy { get; init; }

    public ulong CreateIndex { get; init; }
    public ulong ModifyIndex { get; init; }
}
