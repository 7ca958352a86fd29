using Microsoft.Extensions.Logging;
using Weft.Core.Catalog;
using Weft.Core.Health;
using Weft.Server.Api;
using Weft.Server.Catalog;
using Weft.Server.Registry;

namespace Weft.Server.Health;

/// <summary>
/// Runs the checks registered on this server's node. Interval checks share one <see cref="ProbeSchedule"/> on the
/// injected <see cref="TimeProvider"/> (each started at a random point of its first interval so ten thousand
/// checks spread out) and their probes run asynchronously, so checks cost neither threads nor timers each.
/// Results pass Consul's thresholds and are written only when status or output changed. TTL checks expire when not refreshed, and
/// a check critical for longer than its <c>DeregisterCriticalServiceAfter</c> removes its service.
/// </summary>
internal sealed partial class CheckScheduler : IAsyncDisposable
{
    public const int MaxOutputLength = 4096;

    private readonly CatalogStore _catalog;
    private readonly HealthProbeFactory _probes;
    private readonly TimeProvider _time;
    private readonly ServerIdentity _self;
    private readonly ILogger _logger;
    private readonly Dictionary<CheckKey, ScheduledCheck> _checks = [];
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly ProbeSchedule _schedule;
    private long _probesRun;

    public CheckScheduler(CatalogStore catalog, HealthProbeFactory probes, TimeProvider time, ServerIdentity self, ILogger<CheckScheduler> logger)
    {
        _catalog = catalog;
        _probes = probes;
        _time = time;
        _self = self;
        _logger = logger;
        _schedule = new ProbeSchedule(time);
    }

    /// <summary>Probes run since start (HTTP, TCP, gRPC and script).</summary>
    public long ProbesRun => Interlocked.Read(ref _probesRun);

    public int Scheduled
    {
        get
        {
            lock (_lock) return _checks.Count;
        }
    }

    /// <summary>Entries in the shared probe schedule, including replaced checks not yet shed (for tests).</summary>
    internal int ScheduleEntries => _schedule.Count;

    public void Start()
    {
        _catalog.Committed += OnCommitted;
        foreach (var check in _catalog.Current.ChecksOn(_self.NodeName))
            Reconcile(check.Key, check);
    }

    /// <summary>
    /// A TTL check's heartbeat (<c>/v1/agent/check/pass|warn|fail|update</c>): sets its status and output and
    /// restarts its TTL.
    /// </summary>
    public async Task ReportTtlAsync(CheckKey key, string status, string output)
    {
        ScheduledCheck? scheduled;
        lock (_lock) _checks.TryGetValue(key, out scheduled);
        if (scheduled is null || scheduled.Definition.Type != CheckTypes.Ttl)
        {
            if (!_catalog.Current.Checks.ContainsKey(key))
                throw ApiException.NotFound($"Unknown check ID \"{key.Id}\". Ensure that the check ID is passed, not the check name.");
            throw ApiException.BadRequest($"CheckID \"{key.Id}\" does not have associated TTL");
        }

        scheduled.RestartTtl();
        await WriteStatusAsync(scheduled, status, Truncate(output));
    }

    private void OnCommitted(CatalogState state, IReadOnlyList<CatalogChange> changes)
    {
        foreach (var change in changes)
        {
            var key = change switch
            {
                CatalogChange.CheckUpsert c => c.Check.Key,
                CatalogChange.CheckDelete c => c.Key,
                _ => default,
            };
            if (key.Node == _self.NodeName)
                Reconcile(key, state.Checks.GetValueOrDefault(key));
        }
    }

    private void Reconcile(CheckKey key, CheckRecord? check)
    {
        lock (_lock)
        {
            _checks.TryGetValue(key, out var existing);
            if (check?.Definition is null)
            {
                if (existing is null) return;
                _checks.Remove(key);
                existing.Dispose();
                return;
            }

            if (existing is not null && existing.Definition.Equivalent(check.Definition))
            {
                existing.Observe(check);
                return;
            }

            existing?.Dispose();
            var scheduled = new ScheduledCheck(this, check);
            _checks[key] = scheduled;
            scheduled.Start();
            scheduled.Observe(check);
        }
    }

    private async Task WriteStatusAsync(ScheduledCheck scheduled, string status, string output)
    {
        var current = _catalog.Current.Checks.GetValueOrDefault(scheduled.Key);
        if (current is null || current.Status == status && current.Output == output) return;
        try
        {
            await _catalog.WriteAsync(tx =>
            {
                // The check may have been re-registered or removed while the probe ran; then this result is stale.
                var now = tx.State.Checks.GetValueOrDefault(scheduled.Key);
                if (now?.Definition is null || !now.Definition.Equivalent(scheduled.Definition)) return;
                tx.PutCheck(now with { Status = status, Output = output });
            });
        }
        catch (ObjectDisposedException)
        {
            // Shutting down: the result is dropped, as the next start runs the check again.
        }
    }

    private async Task DeregisterAsync(ScheduledCheck scheduled, TimeSpan after)
    {
        var serviceKey = new ServiceKey(scheduled.Key.Node, scheduled.ServiceId);
        LogDeregistering(scheduled.Key.Id, scheduled.ServiceId, after);
        try
        {
            await _catalog.WriteAsync(tx =>
            {
                if (tx.State.Checks.GetValueOrDefault(scheduled.Key) is { Status: HealthStatus.Critical })
                    tx.DeleteService(serviceKey);
            });
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private static string Truncate(string output) =>
        output.Length <= MaxOutputLength ? output : output[..MaxOutputLength] + " ... (truncated)";

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested) return;
        _catalog.Committed -= OnCommitted;
        await _stopping.CancelAsync();
        _schedule.Dispose();
        lock (_lock)
        {
            foreach (var check in _checks.Values) check.Dispose();
            _checks.Clear();
        }
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Check {CheckId} critical for {After}; deregistering service {ServiceId}")]
    private partial void LogDeregistering(string checkId, string serviceId, TimeSpan after);

    [LoggerMessage(EventId = 201, Level = LogLevel.Warning, Message = "Check {CheckId} failed to run")]
    private partial void LogProbeFailed(Exception e, string checkId);

    [LoggerMessage(EventId = 202, Level = LogLevel.Debug, Message = "Check {CheckId} is now {Status}")]
    private partial void LogStatus(string checkId, string status);

    /// <summary>One check's place in the schedule (or its TTL timer), its reaper timer and threshold counters.</summary>
    private sealed class ScheduledCheck : IDisposable, IPeriodicProbe
    {
        private readonly CheckScheduler _owner;
        private readonly IHealthProbe? _probe;
        private readonly CheckStatusHandler _thresholds;
        private ITimer? _timer;
        private ITimer? _reaper;
        private int _running;
        private bool _disposed;

        public ScheduledCheck(CheckScheduler owner, CheckRecord check)
        {
            _owner = owner;
            Key = check.Key;
            ServiceId = check.ServiceId;
            Definition = check.Definition!;
            _thresholds = new CheckStatusHandler(Definition, check.Status);
            if (Definition.Type != CheckTypes.Ttl)
                _probe = owner._probes.Create(Definition);
        }

        public CheckKey Key { get; }
        public string ServiceId { get; }
        public CheckDefinition Definition { get; }

        public void Start()
        {
            if (Definition.Type == CheckTypes.Ttl)
            {
                _timer = _owner._time.CreateTimer(static s => ((ScheduledCheck)s!).Expire(), this, Definition.Ttl, Timeout.InfiniteTimeSpan);
                return;
            }

            var first = TimeSpan.FromTicks((long)(Random.Shared.NextDouble() * Definition.Interval.Ticks));
            _owner._schedule.Add(this, first, Definition.Interval);
        }

        public bool Stopped => Volatile.Read(ref _disposed);

        public void Fire() => _ = RunAsync();

        public void RestartTtl() => _timer?.Change(Definition.Ttl, Timeout.InfiniteTimeSpan);

        /// <summary>Keeps the deregister-after-critical timer in step with the status the catalog holds.</summary>
        public void Observe(CheckRecord check)
        {
            var after = Definition.DeregisterCriticalServiceAfter;
            if (after <= TimeSpan.Zero || ServiceId.Length == 0) return;
            lock (this)
            {
                if (_disposed) return;
                if (check.Status == HealthStatus.Critical)
                    _reaper ??= _owner._time.CreateTimer(static s => ((ScheduledCheck)s!).Reap(), this, after, Timeout.InfiniteTimeSpan);
                else
                {
                    _reaper?.Dispose();
                    _reaper = null;
                }
            }
        }

        private void Expire() =>
            _ = _owner.WriteStatusAsync(this, HealthStatus.Critical, $"TTL expired (no update within {Weft.Core.Text.GoDuration.Format(Definition.Ttl)})");

        private void Reap() => _ = _owner.DeregisterAsync(this, Definition.DeregisterCriticalServiceAfter);

        private async Task RunAsync()
        {
            // A probe slower than its interval skips ticks instead of piling up.
            if (Interlocked.Exchange(ref _running, 1) == 1) return;
            try
            {
                var result = await _probe!.ProbeAsync(_owner._stopping.Token);
                Interlocked.Increment(ref _owner._probesRun);
                string? status;
                lock (this) status = _disposed ? null : _thresholds.Next(result.Status);
                if (status is null) return;
                _owner.LogStatus(Key.Id, status);
                await _owner.WriteStatusAsync(this, status, Truncate(result.Output));
            }
            catch (OperationCanceledException) when (_owner._stopping.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                _owner.LogProbeFailed(e, Key.Id);
            }
            finally
            {
                Volatile.Write(ref _running, 0);
            }
        }

        public void Dispose()
        {
            lock (this)
            {
                if (_disposed) return;
                _disposed = true;
                _timer?.Dispose();
                _reaper?.Dispose();
                _reaper = null;
            }

            if (_probe is not null) _owner._schedule.Stopped();
        }
    }
}
