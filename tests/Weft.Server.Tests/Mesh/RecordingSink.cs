using Weft.Core.Mesh;

namespace Weft.Server.Tests.Mesh;

/// <summary>A data plane that accepts (or, when told, rejects) every snapshot and remembers each one.</summary>
internal sealed class RecordingSink : IMeshConfigSink
{
    private readonly Lock _lock = new();
    private readonly List<MeshSnapshot> _offered = [];

    /// <summary>When it returns a reason, the snapshot is rejected with it.</summary>
    public Func<MeshSnapshot, string?> Reject { get; set; } = _ => null;

    public IReadOnlyList<MeshSnapshot> Offered
    {
        get { lock (_lock) return [.. _offered]; }
    }

    public MeshSnapshot? Last
    {
        get { lock (_lock) return _offered.Count > 0 ? _offered[^1] : null; }
    }

    public MeshApplyResult Apply(MeshSnapshot snapshot)
    {
        lock (_lock) _offered.Add(snapshot);
        return Reject(snapshot) is { } reason ? MeshApplyResult.Rejected(reason) : MeshApplyResult.Ok;
    }
}
