namespace Weft.Core.Catalog;

/// <summary>
/// What a blocking query watches. Every commit touches the topics whose answers it changed and stores the
/// commit's index under them, so a query's index is its topic's index and a change wakes exactly the queries
/// on the topics it touched.
/// </summary>
public static class Topics
{
    /// <summary>The set of service names and their tags (<c>/v1/catalog/services</c>).</summary>
    public const string ServiceNames = "services";

    /// <summary>The set of nodes (<c>/v1/catalog/nodes</c>).</summary>
    public const string Nodes = "nodes";

    /// <summary>Every check's status (<c>/v1/health/state/*</c>).</summary>
    public const string Checks = "checks";

    /// <summary>Never touched: datacenters do not change while a server runs.</summary>
    public const string Datacenters = "datacenters";

    /// <summary>The certificate authority's roots and configuration (<c>/v1/connect/ca/*</c>).</summary>
    public const string CaRoots = "connect-ca";

    /// <summary>Instances of one service and their checks, node checks included.</summary>
    public static string Service(string name) => "service:" + name;

    /// <summary>One node's record, services and checks.</summary>
    public static string Node(string name) => "node:" + name;

    /// <summary>One config entry (<c>/v1/config/{kind}/{name}</c>).</summary>
    public static string ConfigEntry(string kind, string name) => "config:" + kind + "/" + name;

    /// <summary>The entries of one kind (<c>/v1/config/{kind}</c>).</summary>
    public static string ConfigKind(string kind) => "config:" + kind;
}
