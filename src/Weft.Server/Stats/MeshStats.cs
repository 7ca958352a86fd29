using Weft.Core.Mesh.Protocol;
using Weft.Core.Metrics;

namespace Weft.Server.Stats;

/// <summary>
/// What the sidecars report over their streams, kept in memory as differences in 5 s slots for the last 10 minutes
/// (a ring; nothing in the store). Reports are cumulative since the sidecar started: the difference from the same
/// proxy's previous report is added to the slot of the time it arrived, and a counter that went down (or a new start
/// time) means the sidecar restarted, so its new value is the difference. Queries read completed slots only.
/// </summary>
internal sealed class MeshStats(TimeProvider time)
{
    public static readonly TimeSpan SlotLength = TimeSpan.FromSeconds(5);
    public const int SlotCount = 120;

    private static readonly int BucketCount = Histogram.LatencyBoundsSeconds.Length + 1;

    private readonly Lock _lock = new();
    private readonly Slot?[] _slots = new Slot?[SlotCount];
    private readonly Dictionary<string, Baseline> _baselines = new(StringComparer.Ordinal);

    /// <summary>Adds what proxy <paramref name="proxyId"/> of <paramref name="service"/> counted since its last report.</summary>
    public void Report(string proxyId, string service, Weft.Core.Mesh.Protocol.Stats stats)
    {
        lock (_lock)
        {
            // The clock is read under the lock: a view that took the lock before saw this slot open, and one after it
            // reads a later time, so no view ever holds a slot that a report still adds to (closed slots are read unlocked).
            var now = time.GetUtcNow();
            var number = SlotNumber(now);
            if (!_baselines.TryGetValue(proxyId, out var baseline) || baseline.Started != stats.StartedUnixMs || baseline.Service != service)
                baseline = new Baseline(service, stats.StartedUnixMs);
            baseline.LastReport = now;
            _baselines[proxyId] = baseline;

            var slot = SlotFor(number);
            foreach (var route in stats.Routes)
            {
                var current = Counts.Of(route);
                var key = (route.Direction, route.Peer, route.Route);
                var delta = baseline.Routes.TryGetValue(key, out var last) && !current.AnyBelow(last) ? current.Minus(last) : current;
                baseline.Routes[key] = current;
                if (delta.Total == 0) continue;
                var series = new SeriesKey(service, route.Direction, route.Peer, route.Route);
                if (slot.Series.TryGetValue(series, out var sum))
                    sum.Add(delta);
                else
                    slot.Series[series] = delta;
            }

            // Proxies silent for the whole history are forgotten, so the baselines stay as many as live proxies.
            if (_baselines.Count > 64 && number % SlotCount == 0)
                foreach (var (id, b) in _baselines.ToList())
                    if (now - b.LastReport > SlotLength * SlotCount)
                        _baselines.Remove(id);
        }
    }

    /// <summary>
    /// The completed slots of the last ten minutes, <paramref name="window"/> of them (at least one) for the window's
    /// figures. A completed slot is never written again (its ring place gets a new <see cref="Slot"/> ten minutes later), so
    /// the view holds the slots themselves, not copies: taking one costs 120 references, not a copy of every series.
    /// </summary>
    public StatsView View(TimeSpan window)
    {
        var now = time.GetUtcNow();
        var current = SlotNumber(now);
        var windowSlots = (int)Math.Clamp(Math.Ceiling(window / SlotLength), 1, SlotCount);
        var slots = new (DateTimeOffset Start, Slot? Slot)[SlotCount];
        HashSet<string> reporting;
        lock (_lock)
        {
            for (var i = 0; i < SlotCount; i++)
            {
                var number = current - SlotCount + i;
                var slot = _slots[Index(number)];
                slots[i] = (StartOf(number), slot?.Number == number ? slot : null);
            }

            reporting = _baselines.Where(b => now - b.Value.LastReport <= SlotLength * SlotCount).Select(b => b.Value.Service).ToHashSet(StringComparer.Ordinal);
        }

        return new StatsView(now, windowSlots, slots, reporting);
    }

    private Slot SlotFor(long number)
    {
        var index = Index(number);
        var slot = _slots[index];
        if (slot is null || slot.Number != number)
            _slots[index] = slot = new Slot(number);
        return slot;
    }

    private static int Index(long number) => (int)(((number % SlotCount) + SlotCount) % SlotCount);

    private static long SlotNumber(DateTimeOffset t) => t.ToUnixTimeMilliseconds() / (long)SlotLength.TotalMilliseconds;

    private static DateTimeOffset StartOf(long number) => DateTimeOffset.FromUnixTimeMilliseconds(number * (long)SlotLength.TotalMilliseconds);

    internal sealed class Slot(long number)
    {
        private Dictionary<(string Direction, string Service), Counts>? _byService;

        public long Number { get; } = number;
        public Dictionary<SeriesKey, Counts> Series { get; } = [];

        /// <summary>
        /// The counts of each service as its own sidecars saw them (inbound, keyed by the service) and as its callers saw
        /// them (outbound, keyed by the upstream); built once, on first use, which is only ever after the slot closed.
        /// Two readers may both build it; they build the same thing.
        /// </summary>
        public Dictionary<(string Direction, string Service), Counts> ByService
        {
            get
            {
                if (Volatile.Read(ref _byService) is { } built) return built;
                var index = new Dictionary<(string, string), Counts>();
                foreach (var (key, counts) in Series)
                {
                    var name = key.Direction == StatsView.Inbound ? key.Service : key.Peer;
                    if (!index.TryGetValue((key.Direction, name), out var sum))
                        index[(key.Direction, name)] = sum = new Counts();
                    sum.Add(counts);
                }

                Volatile.Write(ref _byService, index);
                return index;
            }
        }
    }

    private sealed class Baseline(string service, long started)
    {
        public string Service { get; } = service;
        public long Started { get; } = started;
        public DateTimeOffset LastReport { get; set; }
        public Dictionary<(string, string, string), Counts> Routes { get; } = [];
    }

    internal static int Buckets => BucketCount;
}

/// <summary>One reporting service's counters of one (direction, peer, route).</summary>
internal readonly record struct SeriesKey(string Service, string Direction, string Peer, string Route);

/// <summary>Requests by status class ([0] no status, [1..5] 1xx..5xx), x-weft-error answers below 500, latency buckets.</summary>
internal sealed class Counts
{
    public long[] Classes { get; } = new long[6];
    public long WeftErrors { get; set; }
    public long[] Buckets { get; } = new long[MeshStats.Buckets];

    public long Total => Classes.Sum();

    /// <summary>Requests that ended with no status, with a 5xx, or with an x-weft-error.</summary>
    public long Failures => Classes[0] + Classes[5] + WeftErrors;

    public static Counts Of(RouteCounters route)
    {
        var c = new Counts { WeftErrors = (long)route.WeftErrors };
        for (var i = 0; i < Math.Min(6, route.StatusClasses.Count); i++) c.Classes[i] = (long)route.StatusClasses[i];
        for (var i = 0; i < Math.Min(c.Buckets.Length, route.LatencyBuckets.Count); i++) c.Buckets[i] = (long)route.LatencyBuckets[i];
        return c;
    }

    public bool AnyBelow(Counts other)
    {
        if (WeftErrors < other.WeftErrors) return true;
        for (var i = 0; i < Classes.Length; i++) if (Classes[i] < other.Classes[i]) return true;
        for (var i = 0; i < Buckets.Length; i++) if (Buckets[i] < other.Buckets[i]) return true;
        return false;
    }

    public Counts Minus(Counts other)
    {
        var c = new Counts { WeftErrors = WeftErrors - other.WeftErrors };
        for (var i = 0; i < Classes.Length; i++) c.Classes[i] = Classes[i] - other.Classes[i];
        for (var i = 0; i < Buckets.Length; i++) c.Buckets[i] = Buckets[i] - other.Buckets[i];
        return c;
    }

    public void Add(Counts other)
    {
        WeftErrors += other.WeftErrors;
        for (var i = 0; i < Classes.Length; i++) Classes[i] += other.Classes[i];
        for (var i = 0; i < Buckets.Length; i++) Buckets[i] += other.Buckets[i];
    }

    public Counts Copy()
    {
        var c = new Counts();
        c.Add(this);
        return c;
    }

    /// <summary>
    /// The <paramref name="q"/> quantile as Prometheus's histogram_quantile: linear within the bucket that holds the
    /// rank; above the last bound, the last bound. Null with no requests.
    /// </summary>
    public double? Quantile(double q)
    {
        long total = 0;
        foreach (var b in Buckets) total += b;
        if (total == 0) return null;
        var bounds = Histogram.LatencyBoundsSeconds;
        var rank = q * total;
        long below = 0;
        for (var i = 0; i < Buckets.Length; i++)
        {
            if (Buckets[i] == 0 || below + Buckets[i] < rank)
            {
                below += Buckets[i];
                continue;
            }

            if (i == bounds.Length) return bounds[^1];
            var lower = i == 0 ? 0 : bounds[i - 1];
            return lower + (bounds[i] - lower) * (rank - below) / Buckets[i];
        }

        return bounds[^1];
    }
}

/// <summary>Golden signals over some slots: rate, success rate (null without requests), p50 and p99.</summary>
internal readonly record struct Signals(double RequestsPerSecond, double? SuccessRate, double? P50Seconds, double? P99Seconds)
{
    public static Signals Of(Counts c, double seconds)
    {
        var total = c.Total;
        return new Signals(seconds > 0 ? total / seconds : 0, total == 0 ? null : (double)(total - c.Failures) / total, c.Quantile(0.5), c.Quantile(0.99));
    }
}

/// <summary>A copy of the history at one moment, with the questions the API asks of it.</summary>
internal sealed class StatsView
{
    private static readonly Dictionary<(string Direction, string Service), Counts> NoCounts = [];

    private readonly int _windowSlots;
    private readonly (DateTimeOffset Start, MeshStats.Slot? Slot)[] _slots;
    private readonly HashSet<string> _reporting;
    private IReadOnlyList<(string Source, string Destination, Signals Signals)>? _edges;

    public StatsView(DateTimeOffset now, int windowSlots, (DateTimeOffset Start, MeshStats.Slot? Slot)[] slots, HashSet<string> reporting)
    {
        Time = now;
        _windowSlots = windowSlots;
        _slots = slots;
        _reporting = reporting;
    }

    internal const string Inbound = "inbound";
    private const string Outbound = "outbound";

    // Per slot, a service's counts are one lookup: a service's history is one lookup per slot.
    private Dictionary<(string Direction, string Service), Counts> ByService(int i) => _slots[i].Slot?.ByService ?? NoCounts;

    public DateTimeOffset Time { get; }
    public double WindowSeconds => _windowSlots * MeshStats.SlotLength.TotalSeconds;

    /// <summary>A service's signals come from its own sidecars' inbound counts; without sidecars, from its callers' outbound ones.</summary>
    private (string Direction, string Service) SourceOf(string service) => (_reporting.Contains(service) ? Inbound : Outbound, service);

    public Signals Window(string service)
    {
        var source = SourceOf(service);
        var sum = new Counts();
        for (var i = _slots.Length - _windowSlots; i < _slots.Length; i++)
            if (ByService(i).TryGetValue(source, out var c)) sum.Add(c);
        return Signals.Of(sum, WindowSeconds);
    }

    public IEnumerable<(DateTimeOffset Time, Signals Signals)> History(string service)
    {
        var source = SourceOf(service);
        var empty = new Counts();
        for (var i = 0; i < _slots.Length; i++)
            yield return (_slots[i].Start, Signals.Of(ByService(i).GetValueOrDefault(source, empty), MeshStats.SlotLength.TotalSeconds));
    }

    public IEnumerable<(string Route, Signals Signals)> Routes(string service)
    {
        var (direction, name) = SourceOf(service);
        return InWindow().Where(p => p.Key.Direction == direction && (direction == Inbound ? p.Key.Service : p.Key.Peer) == name)
            .GroupBy(p => p.Key.Route, StringComparer.Ordinal)
            .Select(g => (g.Key, Signals.Of(Merge(g.Select(p => p.Value)), WindowSeconds)))
            .OrderBy(r => r.Key, StringComparer.Ordinal);
    }

    /// <summary>Who calls whom, from outbound counts: the reporting service and the upstream it called.</summary>
    public IReadOnlyList<(string Source, string Destination, Signals Signals)> Edges() => _edges ??=
        [.. InWindow().Where(p => p.Key.Direction == Outbound && p.Key.Peer is { Length: > 0 } and not "unknown")
            .GroupBy(p => (p.Key.Service, p.Key.Peer))
            .Select(g => (g.Key.Service, g.Key.Peer, Signals.Of(Merge(g.Select(p => p.Value)), WindowSeconds)))
            .OrderBy(e => e.Service, StringComparer.Ordinal).ThenBy(e => e.Peer, StringComparer.Ordinal)];

    private IEnumerable<KeyValuePair<SeriesKey, Counts>> InWindow() =>
        _slots.Skip(_slots.Length - _windowSlots).Where(s => s.Slot is not null).SelectMany(s => s.Slot!.Series);

    private static Counts Merge(IEnumerable<Counts> counts)
    {
        var sum = new Counts();
        foreach (var c in counts) sum.Add(c);
        return sum;
    }
}
