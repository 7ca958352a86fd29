using Weft.Core.Catalog;
using Weft.Server.Acl;

namespace Weft.Server.Storage;

/// <summary>
/// Durable storage under the catalog. The server keeps its in-memory view and wakes watchers itself; a store
/// only has to load what it holds and commit a batch of changes atomically, returning the batch's index.
/// The embedded SQLite store assigns <c>proposedIndex</c>; a distributed store (etcd) returns its revision.
/// </summary>
internal interface IStore : IAsyncDisposable
{
    /// <summary>Where the data lives, for start-up messages.</summary>
    string Location { get; }

    /// <summary>Opens the store, refusing clearly anything that is not a Weft store, and reads it whole.</summary>
    Task<CatalogState> LoadAsync(CancellationToken cancellationToken);

    /// <summary>Writes the changes in one transaction and returns only after they are durable.</summary>
    Task<ulong> CommitAsync(IReadOnlyList<CatalogChange> changes, ulong proposedIndex, CancellationToken cancellationToken);

    /// <summary>Every ACL token (service tokens; the bootstrap management token is not stored). Call after <see cref="LoadAsync"/>.</summary>
    Task<IReadOnlyList<AclTokenRecord>> LoadAclTokensAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stores a new token durably and returns it with its index. ACL writes have their own monotonic index, kept
    /// beside the catalog's, so token writes never wake catalog watchers.
    /// </summary>
    Task<AclTokenRecord> CreateAclTokenAsync(AclTokenRecord token, CancellationToken cancellationToken);

    /// <summary>Deletes a token durably; false when there was none with that AccessorID.</summary>
    Task<bool> DeleteAclTokenAsync(string accessorId, CancellationToken cancellationToken);
}

/// <summary>The store cannot be opened as it is; the message says what is wrong and where.</summary>
internal sealed class StoreOpenException(string message, Exception? inner = null) : Exception(message, inner);
