using Weft.Core.Catalog;
using Weft.Core.Config;
using Weft.Core.Mesh;
using Weft.Core.Mesh.Protocol;

namespace Weft.Core.Tests.Mesh;

public sealed class MeshWireTests
{
    private static CatalogState Catalog()
    {
        var tx = new CatalogTransaction(CatalogState.Empty, 1);
        tx.PutNode(new NodeRecord { Name = "n1", Address = "10.0.0.1" });
        tx.PutService(new ServiceRecord { Node = "n1", Id = "w1", Name = "web", Port = 80, Weights = new(4, 1) });
        tx.PutService(new ServiceRecord { Node = "n1", Id = "w2", Name = "web", Address = "10.0.0.2", Port = 80, Weights = new(4, 1) });
        tx.PutService(new ServiceRecord { Node = "n1", Id = "w3", Name = "web", Port = 81 });
        tx.PutCheck(new CheckRecord { Node = "n1", Id = "c2", Name = "c2", ServiceId = "w2", ServiceName = "web", Status = HealthStatus.Warning });
        tx.PutCheck(new CheckRecord { Node = "n1", Id = "c3", Name = "c3", ServiceId = "w3", ServiceName = "web", Status = HealthStatus.Critical });
        tx.Complete();
        return tx.State;
    }

    [Fact]
    public void EndpointsOf_KeepsPassingAndWarning_WithTheNodeAddressAsFallback_AndWeightByHealth()
    {
        var set = MeshWire.EndpointsOf(Catalog(), "web")!;
        Assert.Equal(["w1", "w2"], set.Endpoints.Select(e => e.Id));
        Assert.Equal(("10.0.0.1", "passing", 4), (set.Endpoints[0].Address, set.Endpoints[0].Health, set.Endpoints[0].Weight));
        Assert.Equal(("10.0.0.2", "warning", 1), (set.Endpoints[1].Address, set.Endpoints[1].Health, set.Endpoints[1].Weight));
        Assert.Null(MeshWire.EndpointsOf(Catalog(), "nope"));
    }

    [Fact]
    public void Fold_ADeltaChangesOnlyWhatItNames_AndAFullMessageReplacesEverything()
    {
        var entry = MeshWire.ToWire(new ServiceDefaultsEntry { Kind = ConfigKinds.ServiceDefaults, Name = "web", Protocol = "grpc" });
        var snapshot = new ServerMessage { Version = 5, Full = true, Entries = { entry } };
        snapshot.EndpointSets.Add(MeshWire.EndpointsOf(Catalog(), "web")!);
        snapshot.EndpointSets.Add(new EndpointSet { Service = "db" });
        var first = MeshWire.Fold(MeshSnapshot.Empty, snapshot);
        Assert.Equal(5ul, first.Version);
        Assert.Equal("grpc", first.Entry<ServiceDefaultsEntry>(ConfigKinds.ServiceDefaults, "web")!.Protocol);

        var delta = new ServerMessage { Version = 7, RemovedServices = { "db" }, RemovedEntries = { new EntryKey { Kind = ConfigKinds.ServiceDefaults, Name = "web" } } };
        var second = MeshWire.Fold(first, delta);
        Assert.Equal(7ul, second.Version);
        Assert.Equal(["web"], second.Endpoints.Keys);
        Assert.Empty(second.Entries);
        Assert.Equal(2, second.Endpoints["web"].Length);

        var third = MeshWire.Fold(second, new ServerMessage { Version = 9, Full = true });
        Assert.Empty(third.Endpoints);
    }

    [Fact]
    public void Fold_TakesTheIntentionsDefaultFromFullMessages_AndKeepsItAcrossDeltas()
    {
        var allowed = MeshWire.Fold(MeshSnapshot.Empty, new ServerMessage { Version = 3, Full = true, IntentionsDefaultAllow = true });
        Assert.True(allowed.IntentionsDefaultAllow);
        Assert.True(MeshWire.Fold(allowed, new ServerMessage { Version = 4 }).IntentionsDefaultAllow);
        Assert.False(MeshWire.Fold(allowed, new ServerMessage { Version = 5, Full = true }).IntentionsDefaultAllow);
        Assert.False(MeshSnapshot.Empty.IntentionsDefaultAllow);
    }
}
