using Weft.Core.Catalog;

namespace Weft.Core.Tests.Catalog;

public sealed class CatalogTransactionTests
{
    private static ServiceRecord Service(string id, string name, params string[] tags) =>
        new() { Node = "n1", Id = id, Name = name, Tags = [.. tags] };

    private static CheckRecord Check(string id, string serviceId, string serviceName, string status = HealthStatus.Critical) =>
        new() { Node = "n1", Id = id, Name = id, ServiceId = serviceId, ServiceName = serviceName, Status = status };

    private static CatalogState Commit(CatalogState state, Action<CatalogTransaction> change, out IReadOnlyList<CatalogChange> changes)
    {
        var tx = new CatalogTransaction(state, state.Index + 1);
        change(tx);
        changes = tx.Complete();
        return tx.State;
    }

    private static HashSet<string> Touched(IReadOnlyList<CatalogChange> changes) =>
        changes.OfType<CatalogChange.TopicTouch>().Select(t => t.Topic).ToHashSet();

    private static CatalogState WithNode() =>
        Commit(CatalogState.Empty, tx => tx.PutNode(new NodeRecord { Name = "n1", Address = "10.0.0.1" }), out _);

    [Fact]
    public void NewService_TouchesItsServiceItsNodeAndTheNameList()
    {
        var state = Commit(WithNode(), tx => tx.PutService(Service("w1", "web", "a")), out var changes);
        Assert.Equal(["node:n1", "service:web", "services"], Touched(changes).Order());
        Assert.Equal(2ul, state.TopicIndex(Topics.Service("web")));
        Assert.Equal(2ul, state.Index);
    }

    [Fact]
    public void AnotherInstanceWithKnownTags_DoesNotTouchTheNameList()
    {
        var state = Commit(WithNode(), tx => tx.PutService(Service("w1", "web", "a")), out _);
        Commit(state, tx => tx.PutService(Service("w2", "web", "a")), out var changes);
        Assert.DoesNotContain(Topics.ServiceNames, Touched(changes));
        Assert.Contains(Topics.Service("web"), Touched(changes));
    }

    [Fact]
    public void CheckStatusChange_TouchesOnlyItsServiceNodeAndChecks()
    {
        var state = Commit(WithNode(), tx =>
        {
            tx.PutService(Service("w1", "web"));
            tx.PutService(Service("d1", "db"));
            tx.PutCheck(Check("c1", "w1", "web"));
        }, out _);
        Commit(state, tx => tx.PutCheck(Check("c1", "w1", "web", HealthStatus.Passing)), out var changes);
        Assert.Equal(["checks", "node:n1", "service:web"], Touched(changes).Order());
    }

    [Fact]
    public void NodeCheckChange_TouchesEveryServiceOnTheNode()
    {
        var state = Commit(WithNode(), tx =>
        {
            tx.PutService(Service("w1", "web"));
            tx.PutService(Service("d1", "db"));
        }, out _);
        Commit(state, tx => tx.PutCheck(Check("serf", "", "")), out var changes);
        Assert.Contains(Topics.Service("web"), Touched(changes));
        Assert.Contains(Topics.Service("db"), Touched(changes));
    }

    [Fact]
    public void WritingWhatIsAlreadyThere_ChangesNothing()
    {
        var state = Commit(WithNode(), tx =>
        {
            tx.PutService(Service("w1", "web", "a"));
            tx.PutCheck(Check("c1", "w1", "web"));
        }, out _);
        Commit(state, tx =>
        {
            tx.PutService(Service("w1", "web", "a"));
            tx.PutCheck(Check("c1", "w1", "web"));
        }, out var changes);
        Assert.Empty(changes);
    }

    [Fact]
    public void DeletingAService_CascadesToItsChecks_AndKeepsCreateIndexOnUpdates()
    {
        var state = Commit(WithNode(), tx =>
        {
            tx.PutService(Service("w1", "web"));
            tx.PutCheck(Check("c1", "w1", "web"));
            tx.PutCheck(Check("c2", "w1", "web"));
        }, out _);
        var updated = Commit(state, tx => tx.PutService(Service("w1", "web", "new-tag")), out _);
        var record = updated.Services[new ServiceKey("n1", "w1")];
        Assert.Equal(2ul, record.CreateIndex);
        Assert.Equal(3ul, record.ModifyIndex);

        var deleted = Commit(updated, tx => Assert.True(tx.DeleteService(new ServiceKey("n1", "w1"))), out var changes);
        Assert.Empty(deleted.Checks);
        Assert.Empty(deleted.Services);
        Assert.Contains(Topics.ServiceNames, Touched(changes));
        Assert.False(deleted.ServicesByName.ContainsKey("web"));
    }

    [Fact]
    public void Rollback_UndoesOneOperationAndKeepsTheOthers()
    {
        var tx = new CatalogTransaction(WithNode(), 2);
        tx.PutService(Service("keep", "web"));
        var mark = tx.Mark();
        tx.PutService(Service("drop", "db"));
        tx.Rollback(mark);
        var changes = tx.Complete();

        Assert.True(tx.State.Services.ContainsKey(new ServiceKey("n1", "keep")));
        Assert.False(tx.State.Services.ContainsKey(new ServiceKey("n1", "drop")));
        Assert.DoesNotContain(Topics.Service("db"), Touched(changes));
    }

    [Fact]
    public void ApplyingTheChangesAtAnotherIndex_GivesTheSameCatalogWithThatIndex()
    {
        var start = WithNode();
        var tx = new CatalogTransaction(start, start.Index + 1);
        tx.PutService(Service("w1", "web"));
        tx.PutCheck(Check("c1", "w1", "web"));
        var changes = tx.Complete();

        // A distributed store may commit at a revision other than the one proposed.
        var applied = start.Apply(changes, 42);
        Assert.Equal(42ul, applied.Index);
        Assert.Equal(42ul, applied.Services[new ServiceKey("n1", "w1")].ModifyIndex);
        Assert.Equal(42ul, applied.TopicIndex(Topics.Service("web")));
        Assert.Equal(tx.State.Checks.Keys.Order(), applied.Checks.Keys.Order());
    }

    [Fact]
    public void ChecksByOwner_FollowPutsMovesAndDeletes()
    {
        var state = Commit(WithNode(), tx =>
        {
            tx.PutService(Service("w1", "web"));
            tx.PutService(Service("w2", "web"));
            tx.PutCheck(Check("c1", "w1", "web"));
            tx.PutCheck(Check("node-check", "", ""));
        }, out _);
        var w1 = state.Services[new ServiceKey("n1", "w1")];
        Assert.Equal(["node-check", "c1"], state.ChecksFor(w1).Select(c => c.Id));

        var moved = Commit(state, tx => tx.PutCheck(Check("c1", "w2", "web")), out _);
        Assert.Empty(moved.ChecksOf(new ServiceKey("n1", "w1")));
        Assert.Equal(["c1"], moved.ChecksOf(new ServiceKey("n1", "w2")).Select(c => c.Id));

        var gone = Commit(moved, tx => tx.DeleteCheck(new CheckKey("n1", "node-check")), out _);
        Assert.Empty(gone.NodeChecksOn("n1"));
    }

    [Fact]
    public void TagsOfAName_AreTheUnionOverItsInstances_AsInstancesComeAndGo()
    {
        var state = Commit(WithNode(), tx =>
        {
            tx.PutService(Service("w1", "web", "a", "b"));
            tx.PutService(Service("w2", "web", "b", "c"));
        }, out _);
        Assert.Equal(["a", "b", "c"], state.TagsOf("web"));

        state = Commit(state, tx => tx.DeleteService(new ServiceKey("n1", "w2")), out _);
        Assert.Equal(["a", "b"], state.TagsOf("web"));

        state = Commit(state, tx => tx.PutService(Service("w1", "web", "z")), out var changes);
        Assert.Equal(["z"], state.TagsOf("web"));
        Assert.Contains(Topics.ServiceNames, Touched(changes));
    }
}
