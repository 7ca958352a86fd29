using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using Weft.Server.Storage;

namespace Weft.Server.Acl;

/// <summary>
/// The server's tokens: the bootstrap management token (from <c>--acl-token-file</c>, <c>WEFT_ACL_TOKEN</c> or the
/// data dir; never stored in the database) and the service tokens kept hashed in the store. The middleware
/// resolves every request from the in-memory view here: the presented secret is hashed, looked up by its hash
/// and compared in constant time, so no request ever reads the database.
/// </summary>
internal sealed class AclTokens
{
    private readonly IStore _store;
    private readonly TimeProvider _time;
    private readonly byte[]? _managementHash;
    private readonly SemaphoreSlim _writes = new(1, 1);
    private View _view = View.Empty;

    public AclTokens(IStore store, TimeProvider time, string? managementSecret)
    {
        _store = store;
        _time = time;
        _managementHash = string.IsNullOrEmpty(managementSecret) ? null : Hash(managementSecret);
        ManagementSince = time.GetUtcNow();
    }

    /// <summary>When this server took up its management token (it is not stored, so: when it started).</summary>
    public DateTimeOffset ManagementSince { get; }

    /// <summary>False under <c>--dev-open</c>: no token is checked, and the ACL endpoints say so.</summary>
    public bool Enabled => _managementHash is not null;

    /// <summary>Every service token, oldest first.</summary>
    public IReadOnlyList<AclTokenRecord> All => Volatile.Read(ref _view).ByAccessor.Values.OrderBy(t => t.CreateIndex).ToList();

    public AclTokenRecord? Find(string accessorId) => Volatile.Read(ref _view).ByAccessor.GetValueOrDefault(accessorId);

    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        var tokens = await _store.LoadAclTokensAsync(cancellationToken);
        Volatile.Write(ref _view, View.Of(tokens));
    }

    /// <summary>The identity a presented secret stands for; null for an unknown one.</summary>
    public AclIdentity? Resolve(string? presented)
    {
        if (string.IsNullOrEmpty(presented) || _managementHash is null) return null;
        var hash = Hash(presented);
        if (CryptographicOperations.FixedTimeEquals(hash, _managementHash))
            return AclIdentity.Management;
        // The dictionary is keyed by the hash, so its timing tells nothing about the secret; the final compare is constant-time anyway.
        return Volatile.Read(ref _view).ByHash.TryGetValue(Convert.ToHexString(hash), out var token)
               && CryptographicOperations.FixedTimeEquals(hash, token.SecretHash)
            ? new AclIdentity(token.AccessorId, token.ServiceName)
            : null;
    }

    /// <summary>Creates a service token; returns it with its SecretID, the only time the secret is known.</summary>
    /// <exception cref="AclConflictException">The AccessorID or SecretID asked for is taken.</exception>
    public async Task<(AclTokenRecord Token, string SecretId)> CreateAsync(string serviceName, string description, bool local,
        string? accessorId, string? secretId, CancellationToken cancellationToken)
    {
        secretId ??= Guid.NewGuid().ToString();
        var hash = Hash(secretId);
        await _writes.WaitAsync(cancellationToken);
        try
        {
            var view = Volatile.Read(ref _view);
            if (accessorId is not null && (view.ByAccessor.ContainsKey(accessorId) || accessorId == AclIdentity.ManagementAccessorId))
                throw new AclConflictException($"Invalid Token: AccessorID is already in use");
            if (view.ByHash.ContainsKey(Convert.ToHexString(hash)) || (_managementHash is not null && CryptographicOperations.FixedTimeEquals(hash, _managementHash)))
                throw new AclConflictException("Invalid Token: SecretID is already in use");

            var stored = await _store.CreateAclTokenAsync(new AclTokenRecord
            {
                AccessorId = accessorId ?? Guid.NewGuid().ToString(),
                SecretHash = hash,
                ServiceName = serviceName,
                Description = description,
                Local = local,
                CreateTime = _time.GetUtcNow(),
            }, cancellationToken);
            Volatile.Write(ref _view, View.Of([.. view.ByAccessor.Values, stored]));
            return (stored, secretId);
        }
        finally
        {
            _writes.Release();
        }
    }

    /// <summary>Deletes a service token; false when there is none with that AccessorID.</summary>
    public async Task<bool> DeleteAsync(string accessorId, CancellationToken cancellationToken)
    {
        await _writes.WaitAsync(cancellationToken);
        try
        {
            if (!await _store.DeleteAclTokenAsync(accessorId, cancellationToken)) return false;
            var view = Volatile.Read(ref _view);
            Volatile.Write(ref _view, View.Of(view.ByAccessor.Values.Where(t => t.AccessorId != accessorId)));
            return true;
        }
        finally
        {
            _writes.Release();
        }
    }

    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    private sealed record View(ImmutableDictionary<string, AclTokenRecord> ByAccessor, ImmutableDictionary<string, AclTokenRecord> ByHash)
    {
        public static readonly View Empty = Of([]);

        public static View Of(IEnumerable<AclTokenRecord> tokens)
        {
            var list = tokens.ToList();
            return new View(
                list.ToImmutableDictionary(t => t.AccessorId, StringComparer.Ordinal),
                list.ToImmutableDictionary(t => Convert.ToHexString(t.SecretHash), StringComparer.Ordinal));
        }
    }
}

/// <summary>A token cannot be created as asked because an ID it names is taken.</summary>
internal sealed class AclConflictException(string message) : Exception(message);
