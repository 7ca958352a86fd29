using Weft.Core.Config;

namespace Weft.Core.Catalog;

/// <summary>
/// One durable change to the catalog: what a store writes and what the in-memory view applies, in order.
/// Upserts carry the whole record; the index of the commit they belong to is given when applied.
/// </summary>
public abstract record CatalogChange
{
    private CatalogChange() { }

    public sealed record NodeUpsert(NodeRecord Node) : CatalogChange;

    public sealed record NodeDelete(string Name) : CatalogChange;

    public sealed record ServiceUpsert(ServiceRecord Service) : CatalogChange;

    public sealed record ServiceDelete(ServiceKey Key) : CatalogChange;

    public sealed record CheckUpsert(CheckRecord Check) : CatalogChange;

    public sealed record CheckDelete(CheckKey Key) : CatalogChange;

    /// <summary>A config entry, stored whole; its (Kind, Name) is its key.</summary>
    public sealed record ConfigEntryUpsert(ConfigEntry Entry) : CatalogChange;

    public sealed record ConfigEntryDelete(string Kind, string Name) : CatalogChange;

    /// <summary>A root of the certificate authority, stored whole; its Id is its key.</summary>
    public sealed record CaRootUpsert(CaRootRecord Root) : CatalogChange;

    public sealed record CaRootDelete(string Id) : CatalogChange;

    /// <summary>Records that a topic's answer changed at this commit's index.</summary>
    public sealed record TopicTouch(string Topic) : CatalogChange;
}
