using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Weft.Server.Ca;

/// <summary>
/// A CA the operator brings (<c>--ca-cert FILE --ca-key FILE</c>, or <c>PrivateKey</c>/<c>RootCert</c> through the
/// API): a root, or an intermediate followed in the same file by its chain up to the root. The key must be the
/// first certificate's. Every way the files can be wrong ends in a <see cref="CaConfigException"/> saying which.
/// </summary>
internal sealed record OperatorCa(X509Certificate2 Signer, AsymmetricAlgorithm Key, IReadOnlyList<X509Certificate2> Chain, X509Certificate2 Root)
{
    public static OperatorCa FromFiles(string certFile, string keyFile, DateTimeOffset now)
    {
        var certPem = Read(certFile, "--ca-cert");
        var keyPem = Read(keyFile, "--ca-key");
        return FromPem(certPem, keyPem, now, $"--ca-cert {certFile}", $"--ca-key {keyFile}");
    }

    public static OperatorCa FromPem(string certPem, string keyPem, DateTimeOffset now, string certSource, string keySource)
    {
        var certs = new X509Certificate2Collection();
        try
        {
            certs.ImportFromPem(certPem);
        }
        catch (CryptographicException e)
        {
            throw new CaConfigException($"{certSource}: not a PEM certificate ({e.Message.TrimEnd('.')})");
        }

        if (certs.Count == 0)
            throw new CaConfigException($"{certSource}: no \"-----BEGIN CERTIFICATE-----\" block found");

        var key = LoadKey(keyPem, keySource);
        var signer = certs[0];
        if (!signer.PublicKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
            throw new CaConfigException($"{keySource} is not the key of the first certificate in {certSource} ({signer.Subject}): they do not match");

        foreach (var cert in certs)
        {
            if (cert.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is not { CertificateAuthority: true })
                throw new CaConfigException($"{certSource}: {cert.Subject} is not a CA certificate (basic constraints CA:TRUE missing)");
            if (now < cert.NotBefore.ToUniversalTime() || now > cert.NotAfter.ToUniversalTime())
                throw new CaConfigException($"{certSource}: {cert.Subject} is valid from {cert.NotBefore.ToUniversalTime():u} to {cert.NotAfter.ToUniversalTime():u}, not now");
        }

        var root = certs[^1];
        if (!CaCertificates.IsSelfSigned(root))
            throw new CaConfigException($"{certSource}: the last certificate ({root.Subject}) is not a self-signed root; append the issuer chain up to the root after the CA certificate");

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        foreach (var cert in certs.Skip(1).SkipLast(1)) chain.ChainPolicy.ExtraStore.Add(cert);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        if (!chain.Build(signer))
        {
            var why = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
            throw new CaConfigException($"{certSource}: {signer.Subject} does not chain to {root.Subject}: {why}");
        }

        return new OperatorCa(signer, key, [.. certs.Skip(1).SkipLast(1)], root);
    }

    private static string Read(string file, string flag)
    {
        try
        {
            return File.ReadAllText(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CaConfigException($"cannot read {flag} {file}: {e.Message}");
        }
    }

    private static AsymmetricAlgorithm LoadKey(string pem, string source)
    {
        if (pem.Contains("ENCRYPTED PRIVATE KEY", StringComparison.Ordinal))
            throw new CaConfigException($"{source}: the key is encrypted; give an unencrypted PEM key (the store keeps it owner-only)");
        if (pem.Contains("BEGIN RSA PRIVATE KEY", StringComparison.Ordinal))
            return Import(RSA.Create(), pem, source);
        if (pem.Contains("BEGIN EC PRIVATE KEY", StringComparison.Ordinal))
            return Import(ECDsa.Create(), pem, source);
        if (!pem.Contains("BEGIN PRIVATE KEY", StringComparison.Ordinal))
            throw new CaConfigException($"{source}: no PEM private key found (\"-----BEGIN PRIVATE KEY-----\" or \"-----BEGIN EC PRIVATE KEY-----\")");

        var ec = ECDsa.Create();
        try
        {
            ec.ImportFromPem(pem);
            return ec;
        }
        catch (CryptographicException)
        {
            ec.Dispose();
        }

        return Import(RSA.Create(), pem, source);
    }

    private static AsymmetricAlgorithm Import(AsymmetricAlgorithm key, string pem, string source)
    {
        try
        {
            key.ImportFromPem(pem);
            return key;
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            key.Dispose();
            throw new CaConfigException($"{source}: the private key cannot be read: ECDSA or RSA keys only ({e.Message.TrimEnd('.')})");
        }
    }
}

/// <summary>The operator's CA material cannot be used; the message says which file and why.</summary>
internal sealed class CaConfigException(string message) : Exception(message);
