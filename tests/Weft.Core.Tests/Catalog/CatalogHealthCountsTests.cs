using Weft.Core.Catalog;

namespace Weft.Core.Tests.Catalog;

/// <summary>The health counts the catalog keeps per service must always equal a full walk of instances and checks.</summary>
public sealed class CatalogHealthCountsTests
{
    private static readonly string[] Statuses = [HealthStatus.Passing, HealthStatus.Warning, HealthStatus.Critical, HealthStatus.Maintenance];

    private static CatalogState Commit(CatalogState state, Action<CatalogTransaction> change)
    {
        var tx = new CatalogTransaction(state, state.Index + 1);
        change(tx);
        tx.Complete();
        return tx.State;
    }

    private static ServiceRecord Service(string node, string id, string name) => new() { Node = node, Id = id, Name = name };

    private static CheckRecord Check(string node, string id, string serviceId, string status) =>
        new() { Node = node, Id = id, Name = id, ServiceId = serviceId, Status = status };

    /// <summary>What the stats list computed per request before the counts were kept.</summary>
    private static Dictionary<string, HealthCounts> FullRecount(CatalogState state)
    {
        var counts = new Dictionary<string, HealthCounts>(StringComparer.Ordinal);
        foreach (var name in state.ServicesByName.Keys)
        {
            int passing = 0, warning = 0, critical = 0;
            foreach (var instance in state.InstancesOf(name))
            {
                var health = state.ChecksFor(instance).Aggregate(HealthStatus.Passing, (worst, c) => HealthStatus.Worst(worst, c.Status));
                if (health is HealthStatus.Critical or HealthStatus.Maintenance) critical++;
                else if (health == HealthStatus.Warning) warning++;
                else passing++;
            }

            counts[name] = new HealthCounts(passing, warning, critical);
        }

        return counts;
    }

    private static void AssertCountsMatchRecount(CatalogState state)
    {
        var expected = FullRecount(state);
        Assert.Equal(expected.OrderBy(e => e.Key, StringComparer.Ordinal), state.HealthCountsByName.OrderBy(e => e.Key, StringComparer.Ordinal));
    }

    [Fact]
    public void RegisterCheckTransitionsAndDeregister_KeepTheCountsOfTheService()
    {
        var state = Commit(CatalogState.Empty, tx =>
        {
            tx.PutNode(new NodeRecord { Name = "n1", Address = "127.0.0.1" });
            tx.PutService(Service("n1", "w1", "web"));
            tx.PutService(Service("n1", "w2", "web"));
            tx.PutCheck(Check("n1", "c1", "w1", HealthStatus.Passing));
            tx.PutCheck(Check("n1", "c2", "w2", HealthStatus.Critical));
        });
        Assert.Equal(new HealthCounts(1, 0, 1), state.HealthCountsOf("web"));

        state = Commit(state, tx => tx.PutCheck(Check("n1", "c2", "w2", HealthStatus.Warning)));
        Assert.Equal(new HealthCounts(1, 1, 0), state.HealthCountsOf("web"));

        // A node's check bears on every instance on the node.
        state = Commit(state, tx => tx.PutCheck(Check("n1", "serf", "", HealthStatus.Critical)));
        Assert.Equal(new HealthCounts(0, 0, 2), state.HealthCountsOf("web"));
        state = Commit(state, tx => tx.DeleteCheck(new CheckKey("n1", "serf")));
        Assert.Equal(new HealthCounts(1, 1, 0), state.HealthCountsOf("web"));

        state = Commit(state, tx => tx.DeleteService(new ServiceKey("n1", "w2")));
        Assert.Equal(new HealthCounts(1, 0, 0), state.HealthCountsOf("web"));
        state = Commit(state, tx => tx.DeleteNode("n1"));
        Assert.Equal(default, state.HealthCountsOf("web"));
        Assert.Empty(state.HealthCountsByName);
    }

    [Fact]
    public void RandomRegistrationsChecksAndDeregistrations_KeepTheCountsEqualToAFullRecount()
    {
        var random = new Random(5);
        var state = CatalogState.Empty;
        string[] nodes = ["n1", "n2", "n3"];
        state = Commit(state, tx =>
        {
            foreach (var node in nodes) tx.PutNode(new NodeRecord { Name = node, Address = "127.0.0.1" });
        });

        for (var step = 0; step < 2_000; step++)
        {
            var node = nodes[random.Next(nodes.Length)];
            var id = $"i{random.Next(40)}";
            var status = Statuses[random.Next(Statuses.Length)];
            state = Commit(state, tx =>
            {
                switch (random.Next(8))
                {
                    case 0 or 1:
                        // Re-registering may rename the instance's service.
                        tx.PutService(Service(node, id, $"svc-{random.Next(6)}"));
                        break;
                    case 2 or 3:
                        tx.PutCheck(Check(node, $"{id}:{random.Next(2)}", id, status));
                        break;
                    case 4:
                        tx.DeleteService(new ServiceKey(node, id));
                        break;
                    case 5:
                        tx.DeleteCheck(new CheckKey(node, $"{id}:{random.Next(2)}"));
                        break;
                    case 6:
                        // A node's check, or one check moved between a node and an instance.
                        tx.PutCheck(Check(node, "shared", random.Next(2) == 0 ? "" : id, status));
                        break;
                    default:
                        if (random.Next(20) == 0) tx.DeleteNode(node);
                        else tx.PutNode(new NodeRecord { Name = node, Address = "127.0.0.1" });
                        break;
                }
            });
            AssertCountsMatchRecount(state);
        }

        Assert.NotEmpty(state.HealthCountsByName);
    }
}
