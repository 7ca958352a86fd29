using Microsoft.Extensions.Logging;
using Weft.Core.Mesh;
using Weft.Proxy.Hosting;

namespace Weft.Proxy.Routing;

/// <summary>A snapshot version and when it was applied or rejected (with why).</summary>
internal sealed record ConfigEvent(ulong Version, DateTimeOffset At, string? Reason = null);

/// <summary>
/// The data plane's <see cref="IMeshConfigSink"/>: compiles each snapshot and swaps the <see cref="RouteTable"/> in
/// one volatile write, or keeps the previous one and says why. Applies are serialized; reads never lock.
/// </summary>
internal sealed class MeshConfig : IMeshConfigSink
{
    private readonly RouteCompiler _compiler;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Lock _gate = new();
    private Dictionary<string, ClusterRuntime> _runtimes;
    private volatile RouteTable _table;
    private volatile ConfigEvent? _applied;
    private volatile ConfigEvent? _rejected;

    public MeshConfig(RouteCompiler compiler, TimeProvider time, ILogger log)
    {
        _compiler = compiler;
        _time = time;
        _log = log;
        // The empty snapshot always compiles: inbound to the app works before the control plane has spoken, for the
        // callers the initial intentions default lets in (none, unless ProxyOptions says otherwise).
        var initial = compiler.Compile(MeshSnapshot.Empty with { IntentionsDefaultAllow = compiler.Options.IntentionsDefaultAllow }, new Dictionary<string, ClusterRuntime>(), time.GetUtcNow());
        initial.Commit();
        _runtimes = initial.Runtimes;
        _table = initial.Table;
    }

    public RouteTable Table => _table;

    /// <summary>The last snapshot applied; null until the first.</summary>
    public ConfigEvent? Applied => _applied;

    public ConfigEvent? Rejected => _rejected;

    public MeshApplyResult Apply(MeshSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            CompiledConfig compiled;
            try
            {
                compiled = _compiler.Compile(snapshot, _runtimes, now);
            }
            catch (ConfigRejectedException e)
            {
                _rejected = new ConfigEvent(snapshot.Version, now, e.Message);
                _log.SnapshotRejected(snapshot.Version, e.Message);
                return MeshApplyResult.Rejected(e.Message);
            }

            compiled.Commit();
            _runtimes = compiled.Runtimes;
            _table = compiled.Table;
            _applied = new ConfigEvent(snapshot.Version, now);
            _log.SnapshotApplied(snapshot.Version, compiled.Table.Upstreams.Count, compiled.Table.Clusters.Length);
            return MeshApplyResult.Ok;
        }
    }
}
