using Weft.Core.Catalog;
using Weft.Core.Config;

namespace Weft.Core.Tests.Catalog;

public sealed class ConfigEntryTransactionTests
{
    private static CatalogState Commit(CatalogState state, Action<CatalogTransaction> change, out IReadOnlyList<CatalogChange> changes)
    {
        var tx = new CatalogTransaction(state, state.Index + 1);
        change(tx);
        changes = tx.Complete();
        return tx.State;
    }

    private static HashSet<string> Touched(IReadOnlyList<CatalogChange> changes) =>
        changes.OfType<CatalogChange.TopicTouch>().Select(t => t.Topic).ToHashSet();

    private static ServiceDefaultsEntry Defaults(string name, string protocol = "http") =>
        new() { Kind = ConfigKinds.ServiceDefaults, Name = name, Protocol = protocol };

    [Fact]
    public void PutConfigEntry_StoresItWithIndexes_AndTouchesItsTopicAndItsKind()
    {
        var state = Commit(CatalogState.Empty, tx => tx.PutConfigEntry(Defaults("web")), out var changes);
        var stored = Assert.IsType<ServiceDefaultsEntry>(state.ConfigEntry(ConfigKinds.ServiceDefaults, "web"));
        Assert.Equal("http", stored.Protocol);
        Assert.Equal((1ul, 1ul), (stored.CreateIndex, stored.ModifyIndex));
        Assert.Equal(["config:service-defaults", "config:service-defaults/web"], Touched(changes).Order());
        Assert.Equal(1ul, state.TopicIndex(Topics.ConfigEntry(ConfigKinds.ServiceDefaults, "web")));
    }

    [Fact]
    public void PutConfigEntry_Update_KeepsCreateIndex_AndMovesModifyIndex()
    {
        var state = Commit(CatalogState.Empty, tx => tx.PutConfigEntry(Defaults("web")), out _);
        state = Commit(state, tx => tx.PutConfigEntry(Defaults("web", "grpc")), out _);
        var stored = (ServiceDefaultsEntry)state.ConfigEntry(ConfigKinds.ServiceDefaults, "web")!;
        Assert.Equal("grpc", stored.Protocol);
        Assert.Equal((1ul, 2ul), (stored.CreateIndex, stored.ModifyIndex));
    }

    [Fact]
    public void PutConfigEntry_SameContent_IsANoOpWrite()
    {
        var state = Commit(CatalogState.Empty, tx => tx.PutConfigEntry(Defaults("web")), out _);
        var tx = new CatalogTransaction(state, state.Index + 1);
        Assert.False(tx.PutConfigEntry(Defaults("web") with { ModifyIndex = 99 }));
        Assert.False(tx.HasChanges);
    }

    [Fact]
    public void DeleteConfigEntry_RemovesIt_AndTouchesBothTopics_UnknownIsFalse()
    {
        var state = Commit(CatalogState.Empty, tx => tx.PutConfigEntry(Defaults("web")), out _);
        state = Commit(state, tx => Assert.True(tx.DeleteConfigEntry(ConfigKinds.ServiceDefaults, "web")), out var changes);
        Assert.Null(state.ConfigEntry(ConfigKinds.ServiceDefaults, "web"));
        Assert.Equal(["config:service-defaults", "config:service-defaults/web"], Touched(changes).Order());
        Assert.Contains(changes, c => c is CatalogChange.ConfigEntryDelete);

        var tx = new CatalogTransaction(state, state.Index + 1);
        Assert.False(tx.DeleteConfigEntry(ConfigKinds.ServiceDefaults, "web"));
        Assert.False(tx.HasChanges);
    }

    [Fact]
    public void ConfigEntriesOf_ListsOneKindInNameOrder()
    {
        var state = Commit(CatalogState.Empty, tx =>
        {
            tx.PutConfigEntry(Defaults("web"));
            tx.PutConfigEntry(Defaults("api"));
            tx.PutConfigEntry(new ServiceSplitterEntry { Kind = ConfigKinds.ServiceSplitter, Name = "web", Splits = [new() { Weight = 100 }] });
        }, out _);
        Assert.Equal(["api", "web"], state.ConfigEntriesOf(ConfigKinds.ServiceDefaults).Select(e => e.Name));
        Assert.Equal(["web"], state.ConfigEntriesOf(ConfigKinds.ServiceSplitter).Select(e => e.Name));
        Assert.Empty(state.ConfigEntriesOf(ConfigKinds.ServiceRouter));
    }

    [Fact]
    public void Rollback_UndoesAConfigEntryWrite()
    {
        var tx = new CatalogTransaction(CatalogState.Empty, 1);
        var mark = tx.Mark();
        tx.PutConfigEntry(Defaults("web"));
        tx.Rollback(mark);
        Assert.False(tx.HasChanges);
        Assert.Null(tx.State.ConfigEntry(ConfigKinds.ServiceDefaults, "web"));
    }

    [Fact]
    public void ApplyingTheCommittedChanges_RebuildsTheSameEntries()
    {
        var state = Commit(CatalogState.Empty, tx => tx.PutConfigEntry(Defaults("web")), out var first);
        Commit(state, tx => tx.PutConfigEntry(Defaults("web", "tcp")), out var second);
        var replayed = CatalogState.Empty.Apply(first, 1).Apply(second, 2);
        var entry = (ServiceDefaultsEntry)replayed.ConfigEntry(ConfigKinds.ServiceDefaults, "web")!;
        Assert.Equal(("tcp", 1ul, 2ul), (entry.Protocol, entry.CreateIndex, entry.ModifyIndex));
    }
}
