using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Weft.Core.Catalog;
using Weft.Server.Catalog;
using Weft.Server.Hosting;

namespace Weft.Server.Ca;

/// <summary>
/// The mesh's certificate authority. Its roots live in the catalog (durable, indexed, watched); this class creates
/// the first one, rotates (cross-signing the new root with the old key so both are trusted during the rollover),
/// prunes a rotated-out root once no leaf it signed can still be valid, and signs leaves. Signing writes nothing:
/// it reads the active root from the current catalog, so issuance never waits on the store.
/// </summary>
internal sealed partial class CertificateAuthority : IAsyncDisposable
{
    // Added to a rotated-out root's last possible leaf expiry: a request that read the catalog just before the
    // rotation was published may still sign with the old key a moment later.
    private static readonly TimeSpan RotationSlack = TimeSpan.FromMinutes(1);

    // System timers cannot wait ~49 days; a longer wait is done in steps.
    private static readonly TimeSpan MaxTimerWait = TimeSpan.FromDays(1);

    private readonly CatalogStore _catalog;
    private readonly ServerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ITimer _pruneTimer;
    private Signer? _signer;
    private int _disposed;

    public CertificateAuthority(CatalogStore catalog, ServerOptions options, TimeProvider time, ILogger<CertificateAuthority> logger)
    {
        _catalog = catalog;
        _options = options;
        _time = time;
        _logger = logger;
        _pruneTimer = time.CreateTimer(_ => _ = PruneAsync(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public string TrustDomain => _options.TrustDomain;

    public TimeSpan LeafTtl => _options.LeafTtl;

    /// <summary>
    /// Reads the operator's CA files (if given), then creates the first root, or rotates to the operator's CA when
    /// it differs from the active one. Throws <see cref="CaConfigException"/> before the server listens.
    /// </summary>
    public async Task StartAsync()
    {
        var now = _time.GetUtcNow();
        OperatorCa? supplied = null;
        if (_options.CaCertFile is not null || _options.CaKeyFile is not null)
        {
            if (_options.CaCertFile is null || _options.CaKeyFile is null)
                throw new CaConfigException("--ca-cert and --ca-key go together: give both or neither");
            supplied = OperatorCa.FromFiles(_options.CaCertFile, _options.CaKeyFile, now);
        }

        var outcome = await _catalog.WriteAsync(tx =>
        {
            var active = tx.State.ActiveCaRoot;
            if (active is null)
            {
                var first = supplied is null ? Generate(now) : FromOperator(supplied);
                tx.PutCaRoot(first with { Active = true });
                return $"created root {first.Id} ({first.Source})";
            }

            if (supplied is not null && !SameCert(active.SigningCert, supplied.Signer)
                && tx.State.CaRoots.Values.Any(r => !r.Active && SameCert(r.SigningCert, supplied.Signer)))
            {
                // Passed again after someone rotated away from it (weft ca rotate): keep their choice.
                Prune(tx, now);
                return $"active root {active.Id} ({active.Source}); --ca-cert was rotated away from earlier and is not made active again";
            }

            if (supplied is not null && !SameCert(active.SigningCert, supplied.Signer))
            {
                var next = Rotate(tx, FromOperator(supplied), now, crossSign: true);
                return $"rotated to the operator's CA, root {next.Id}; root {active.Id} stays trusted until its leaves expire";
            }

            if (active.MaxLeafTtl < _options.LeafTtl)
                tx.PutCaRoot(active with { MaxLeafTtl = _options.LeafTtl });
            Prune(tx, now);
            return $"active root {active.Id} ({active.Source})";
        });
        LogStarted(outcome);
        SchedulePrune();
    }

    /// <summary>Makes a new root active: generated, or the operator's. Returns the new active root.</summary>
    public async Task<CaRootRecord> RotateAsync(OperatorCa? supplied, bool crossSign = true)
    {
        var root = await _catalog.WriteAsync(tx =>
        {
            var now = _time.GetUtcNow();
            var next = supplied is null ? Generate(now) : FromOperator(supplied);
            if (tx.State.ActiveCaRoot is { } active && active.SigningCert == next.SigningCert)
                return active;
            return Rotate(tx, next, now, crossSign);
        });
        LogRotated(root.Id, root.Source);
        SchedulePrune();
        return root;
    }

    /// <summary>
    /// Signs a leaf for the checked request with the active root. Writes nothing and waits on nothing but a free key
    /// handle: the signer for the active root (parsed certificate, key handles) is built once and reused.
    /// </summary>
    public IssuedCertificate Sign(SigningRequest request)
    {
        var now = _time.GetUtcNow();
        var state = _catalog.Current;
        var active = state.ActiveCaRoot ?? throw new InvalidOperationException("the certificate authority has not started");
        var signer = SignerFor(active);
        var notBefore = CaCertificates.Seconds(now - CaCertificates.Backdate);
        var notAfter = CaCertificates.Seconds(now + _options.LeafTtl);
        if (notAfter > signer.NotAfter) notAfter = signer.NotAfter;
        if (notAfter <= now)
            throw new CaUnavailableException($"the CA certificate {signer.Cert.Subject} expired at {signer.NotAfter:u}; rotate the CA");

        var (der, serial) = signer.Leaves.Sign(request.PublicKey, request.Identity.ToUri(), request.Identity.Service, notBefore, notAfter);
        return new IssuedCertificate(
            CaCertificates.ColonHex(serial),
            PemEncoding.WriteString("CERTIFICATE", der) + "\n" + signer.ChainPem,
            request.Identity.Service,
            request.Identity.ToString(),
            notBefore.UtcDateTime,
            notAfter.UtcDateTime,
            state.TopicIndex(Topics.CaRoots));
    }

    private CaRootRecord Generate(DateTimeOffset now)
    {
        var (cert, key, serial) = CaCertificates.CreateRoot(_options.TrustDomain, now);
        using (cert)
        using (key)
        {
            var pem = CaCertificates.Pem(cert);
            return new CaRootRecord
            {
                Id = CaCertificates.Id(cert),
                Name = "Weft CA Primary Cert",
                SerialNumber = serial,
                SigningKeyId = CaCertificates.SubjectKeyId(cert),
                NotBefore = cert.NotBefore.ToUniversalTime(),
                NotAfter = cert.NotAfter.ToUniversalTime(),
                RootCert = pem,
                SigningCert = pem,
                SigningKey = key.ExportPkcs8PrivateKeyPem() + "\n",
                PrivateKeyType = "ec",
                PrivateKeyBits = 256,
                Source = "generated",
                MaxLeafTtl = _options.LeafTtl,
            };
        }
    }

    private CaRootRecord FromOperator(OperatorCa supplied)
    {
        var root = supplied.Root;
        var serial = root.SerialNumberBytes.Span;
        // Consul's SerialNumber is a 64-bit number; a longer serial keeps its low 63 bits.
        ulong number = 0;
        foreach (var b in serial[Math.Max(0, serial.Length - 8)..]) number = (number << 8) | b;
        var chain = new List<string>();
        if (!ReferenceEquals(supplied.Signer, root)) chain.Add(CaCertificates.Pem(supplied.Signer));
        chain.AddRange(supplied.Chain.Select(CaCertificates.Pem));
        var (type, bits) = supplied.Key switch
        {
            ECDsa ec => ("ec", ec.KeySize),
            RSA rsa => ("rsa", rsa.KeySize),
            _ => ("unknown", 0),
        };
        return new CaRootRecord
        {
            Id = CaCertificates.Id(root),
            Name = "Weft CA Operator Cert",
            SerialNumber = number & long.MaxValue,
            SigningKeyId = CaCertificates.SubjectKeyId(supplied.Signer),
            NotBefore = root.NotBefore.ToUniversalTime(),
            NotAfter = root.NotAfter.ToUniversalTime(),
            RootCert = CaCertificates.Pem(root),
            IntermediateCerts = [.. chain],
            SigningCert = CaCertificates.Pem(supplied.Signer),
            SigningKey = supplied.Key.ExportPkcs8PrivateKeyPem() + "\n",
            PrivateKeyType = type,
            PrivateKeyBits = bits,
            Source = "operator",
            MaxLeafTtl = _options.LeafTtl,
        };
    }

    /// <summary>
    /// Retires the active root and makes <paramref name="next"/> active. The old key cross-signs the new root, and
    /// that certificate (with the old root's own intermediates) joins the new root's intermediates, so a new leaf
    /// also chains to the old root for verifiers that have not yet learned the new one.
    /// </summary>
    private CaRootRecord Rotate(CatalogTransaction tx, CaRootRecord next, DateTimeOffset now, bool crossSign)
    {
        var old = tx.State.ActiveCaRoot!;
        if (old.Id == next.Id)
        {
            // The same root with another intermediate: nothing to cross-sign, old leaves carry their own chain.
            tx.PutCaRoot(next with { Active = true, MaxLeafTtl = old.MaxLeafTtl > _options.LeafTtl ? old.MaxLeafTtl : _options.LeafTtl });
            return tx.State.ActiveCaRoot!;
        }

        var intermediates = new List<string>(next.IntermediateCerts);
        if (crossSign)
        {
            using var oldSigner = CaCertificates.FromPem(old.SigningCert);
            using var oldKey = LoadKey(old.SigningKey);
            using var newRoot = CaCertificates.FromPem(next.RootCert);
            using var cross = CaCertificates.CrossSign(newRoot, oldSigner, oldKey, now);
            intermediates.Add(CaCertificates.Pem(cross));
            intermediates.AddRange(old.IntermediateCerts.Where(c => !intermediates.Contains(c)));
        }

        var leavesExpireBy = now + old.MaxLeafTtl + RotationSlack;
        tx.PutCaRoot(old with
        {
            Active = false,
            SigningKey = "",
            LeavesExpireBy = leavesExpireBy < old.NotAfter ? leavesExpireBy : old.NotAfter,
        });
        var active = next with { Active = true, IntermediateCerts = [.. intermediates], MaxLeafTtl = _options.LeafTtl };
        tx.PutCaRoot(active);
        Prune(tx, now);
        return tx.State.ActiveCaRoot!;
    }

    /// <summary>
    /// Drops rotated-out roots no valid leaf can chain to any more, then the intermediates that led only to them
    /// (cross-signed certificates issued by a pruned root, and so on up the chain).
    /// </summary>
    private static void Prune(CatalogTransaction tx, DateTimeOffset now)
    {
        var gone = tx.State.CaRoots.Values.Where(r => !r.Active && (now > (r.LeavesExpireBy ?? r.NotAfter) || now > r.NotAfter)).ToList();
        foreach (var root in gone)
            tx.DeleteCaRoot(root.Id);
        if (gone.Count == 0) return;

        foreach (var root in tx.State.CaRoots.Values.ToList())
        {
            var kept = KeepReachable(root, tx.State.CaRoots.Values);
            if (kept.Count != root.IntermediateCerts.Length)
                tx.PutCaRoot(root with { IntermediateCerts = [.. kept] });
        }
    }

    private static List<string> KeepReachable(CaRootRecord root, IEnumerable<CaRootRecord> roots)
    {
        var certs = root.IntermediateCerts.Select(pem => (Pem: pem, Cert: CaCertificates.FromPem(pem))).ToList();
        try
        {
            var subjects = new HashSet<string>(roots.Select(r =>
            {
                using var c = CaCertificates.FromPem(r.RootCert);
                return Convert.ToHexString(c.SubjectName.RawData);
            }), StringComparer.Ordinal);
            var kept = certs;
            while (true)
            {
                var known = new HashSet<string>(subjects, StringComparer.Ordinal);
                known.UnionWith(kept.Select(k => Convert.ToHexString(k.Cert.SubjectName.RawData)));
                var next = kept.Where(k => known.Contains(Convert.ToHexString(k.Cert.IssuerName.RawData))).ToList();
                if (next.Count == kept.Count) return [.. next.Select(k => k.Pem)];
                kept = next;
            }
        }
        finally
        {
            foreach (var (_, cert) in certs) cert.Dispose();
        }
    }

    private async Task PruneAsync()
    {
        if (Volatile.Read(ref _disposed) != 0) return;
        try
        {
            var before = _catalog.Current.CaRoots.Count;
            await _catalog.WriteAsync(tx => Prune(tx, _time.GetUtcNow()));
            var pruned = before - _catalog.Current.CaRoots.Count;
            if (pruned > 0) LogPruned(pruned);
            SchedulePrune();
        }
        catch (Exception e) when (e is ObjectDisposedException or StoreUnavailableException)
        {
            LogPruneFailed(e);
        }
    }

    private void SchedulePrune()
    {
        if (Volatile.Read(ref _disposed) != 0) return;
        var due = _catalog.Current.CaRoots.Values
            .Where(r => !r.Active)
            .Select(r => (r.LeavesExpireBy ?? r.NotAfter) < r.NotAfter ? r.LeavesExpireBy ?? r.NotAfter : r.NotAfter)
            .DefaultIfEmpty(DateTimeOffset.MaxValue)
            .Min();
        if (due == DateTimeOffset.MaxValue)
        {
            _pruneTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }

        // A second past the bound: pruning compares "now > bound".
        var wait = due - _time.GetUtcNow() + TimeSpan.FromSeconds(1);
        if (wait < TimeSpan.Zero) wait = TimeSpan.Zero;
        _pruneTimer.Change(wait > MaxTimerWait ? MaxTimerWait : wait, Timeout.InfiniteTimeSpan);
    }

    private Signer SignerFor(CaRootRecord active)
    {
        var current = Volatile.Read(ref _signer);
        if (current is not null && current.RootId == active.Id && current.ModifyIndex == active.ModifyIndex)
            return current;

        var cert = CaCertificates.FromPem(active.SigningCert);
        // One key handle per core: more could not sign at once anyway.
        var keys = Enumerable.Range(0, Math.Clamp(Environment.ProcessorCount, 1, 16)).Select(_ => LoadKey(active.SigningKey)).ToList();
        var signer = new Signer(active.Id, active.ModifyIndex, cert, new LeafSigner(cert, keys),
            new DateTimeOffset(cert.NotAfter.ToUniversalTime()), string.Concat(active.IntermediateCerts));
        // The replaced signer may still be in use by a request that read it a moment ago: it is left to the GC.
        Volatile.Write(ref _signer, signer);
        return signer;
    }

    private static AsymmetricAlgorithm LoadKey(string pem)
    {
        if (string.IsNullOrEmpty(pem))
            throw new CaUnavailableException("the active CA root has no signing key in the store");
        AsymmetricAlgorithm key = pem.Contains("BEGIN RSA", StringComparison.Ordinal) ? RSA.Create() : ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
            return key;
        }
        catch (CryptographicException)
        {
            key.Dispose();
            var rsa = RSA.Create();
            rsa.ImportFromPem(pem);
            return rsa;
        }
    }

    private static bool SameCert(string pem, X509Certificate2 cert)
    {
        using var stored = CaCertificates.FromPem(pem);
        return stored.RawDataMemory.Span.SequenceEqual(cert.RawDataMemory.Span);
    }

    public ValueTask DisposeAsync()
    {
        Interlocked.Exchange(ref _disposed, 1);
        return _pruneTimer.DisposeAsync();
    }

    private sealed record Signer(string RootId, ulong ModifyIndex, X509Certificate2 Cert, LeafSigner Leaves, DateTimeOffset NotAfter, string ChainPem);

    [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "Certificate authority: {Outcome}")]
    private partial void LogStarted(string outcome);

    [LoggerMessage(EventId = 601, Level = LogLevel.Warning, Message = "Certificate authority rotated to root {RootId} ({Source}); the previous root stays trusted until its leaves expire")]
    private partial void LogRotated(string rootId, string source);

    [LoggerMessage(EventId = 602, Level = LogLevel.Information, Message = "Certificate authority pruned {Count} rotated-out root(s): no leaf they signed is valid any more")]
    private partial void LogPruned(int count);

    [LoggerMessage(EventId = 603, Level = LogLevel.Warning, Message = "Certificate authority could not prune rotated-out roots")]
    private partial void LogPruneFailed(Exception e);
}

/// <summary>A signed workload certificate as <c>/v1/connect/ca/sign</c> returns it.</summary>
internal sealed record IssuedCertificate(string SerialNumber, string CertPem, string Service, string ServiceUri, DateTime ValidAfter, DateTime ValidBefore, ulong Index);

/// <summary>The CA cannot sign now (its certificate expired, its key is missing); an operator must act.</summary>
internal sealed class CaUnavailableException(string message) : Exception(message);
