namespace Weft.Core.Catalog;

/// <summary>A service instance is unique per node and ID, as in Consul's catalog.</summary>
public readonly record struct ServiceKey(string Node, string Id) : IComparable<ServiceKey>
{
    public int CompareTo(ServiceKey other)
    {
        var byNode = string.CompareOrdinal(Node, other.Node);
        return byNode != 0 ? byNode : string.CompareOrdinal(Id, other.Id);
    }

    public override string ToString() => $"{Node}/{Id}";
}

/// <summary>A check is unique per node and check ID.</summary>
public readonly record struct CheckKey(string Node, string Id) : IComparable<CheckKey>
{
    public int CompareTo(CheckKey other)
    {
        var byNode = string.CompareOrdinal(Node, other.Node);
        return byNode != 0 ? byNode : string.CompareOrdinal(Id, other.Id);
    }

    public override string ToString() => $"{Node}/{Id}";
}
