namespace Weft.Proxy.LoadBalancing;

/// <summary>Consecutive-failure outlier detection, Envoy's <c>consecutive_5xx</c>.</summary>
internal sealed partial class Cluster
{
    /// <summary>Envoy's default <c>max_ejection_time</c>; an ejection never lasts longer (nor shorter than the base).</summary>
    internal static readonly TimeSpan MaxEjectionTime = TimeSpan.FromSeconds(300);

    private long _ejections;

    /// <summary>Ejections since the cluster was created (not how many are in force now), for metrics.</summary>
    public long Ejections => Interlocked.Read(ref _ejections);

    /// <summary>
    /// Ejects <paramref name="endpoint"/> if enforcement's dice say so and the cluster may lose it: Envoy's rule,
    /// (ejected + 1) / endpoints ≤ <see cref="OutlierSettings.MaxEjectionPercent"/>, except that one ejection is
    /// always allowed when none is in force.
    /// </summary>
    private void TryEject(EndpointState endpoint, long now)
    {
        lock (_gate)
        {
            var view = _view;
            var outlier = view.Settings.Outlier;
            if (endpoint.Removed || endpoint.IsEjectedAt(now))
                return;
            if (outlier.EnforcingPercent < 100 && _random.Next(100) >= outlier.EnforcingPercent)
                return;

            var ejected = 0;
            foreach (var e in view.Endpoints)
            {
                if (e.IsEjectedAt(now))
                    ejected++;
            }
            if (ejected > 0 && (ejected + 1) * 100L > (long)outlier.MaxEjectionPercent * view.Endpoints.Length)
                return;

            endpoint.Eject(now, outlier.BaseEjectionTime, outlier.Interval, MaxEjectionTime);
            Interlocked.Increment(ref _ejections);
        }
    }
}
