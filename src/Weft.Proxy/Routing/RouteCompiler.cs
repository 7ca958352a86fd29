using System.Collections.Frozen;
using System.Collections.Immutable;
using Weft.Core.Config;
using Weft.Core.Mesh;
using Weft.Proxy.Hosting;
using Weft.Proxy.LoadBalancing;
using Weft.Proxy.Metrics;
using Weft.Proxy.Resilience;
using Weft.Proxy.Transport;

namespace Weft.Proxy.Routing;

/// <summary>The long-lived state of one cluster, kept across snapshots while the cluster is referenced.</summary>
internal sealed record ClusterRuntime(Cluster Cluster, RequestLimiter Limiter, RetryBudget Budget);

/// <summary>A compiled snapshot not yet in effect: <see cref="Commit"/> updates the long-lived clusters.</summary>
internal sealed record CompiledConfig(RouteTable Table, Dictionary<string, ClusterRuntime> Runtimes, List<Action> Commits)
{
    public void Commit()
    {
        foreach (var commit in Commits)
            commit();
    }
}

/// <summary>
/// MeshSnapshot → <see cref="RouteTable"/>, following Consul's discovery chain: router (first match wins, catch-all to
/// the service) → splitter (one level: a split naming a service with its own splitter goes straight to its resolver) →
/// resolver (subset, timeouts, load balancer). The caller's own <c>service-defaults</c> <c>UpstreamConfig</c> gives
/// connect timeout, limits and outlier detection per upstream. Pure until <see cref="CompiledConfig.Commit"/>: a
/// rejected snapshot leaves nothing behind.
/// </summary>
internal sealed class RouteCompiler(ProxyOptions options, IUpstreamTransport transport, ProxyMetrics metrics)
{
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(5);

    private static readonly FrozenSet<string> Policies = FrozenSet.ToFrozenSet(
    [
        LoadBalancingPolicies.PeakEwma, LoadBalancingPolicies.RoundRobin, LoadBalancingPolicies.Random,
        LoadBalancingPolicies.LeastRequest, LoadBalancingPolicies.RingHash, LoadBalancingPolicies.Maglev,
    ]);

    /// <exception cref="ConfigRejectedException">The snapshot cannot be applied; the message says why.</exception>
    public CompiledConfig Compile(MeshSnapshot snapshot, IReadOnlyDictionary<string, ClusterRuntime> existing, DateTimeOffset now)
    {
        var run = new Run(this, snapshot, existing);
        // Resolvers are checked whole even when no route uses them yet: a NACK now beats a surprise later.
        foreach (var entry in snapshot.Entries.Values)
        {
            if (entry is ServiceResolverEntry resolver)
                Run.Validate(resolver);
        }

        var names = new SortedSet<string>(snapshot.Endpoints.Keys, StringComparer.OrdinalIgnoreCase);
        foreach (var (kind, name) in snapshot.Entries.Keys)
        {
            if (kind is ConfigKinds.ServiceRouter or ConfigKinds.ServiceSplitter)
                names.Add(name);
        }

        foreach (var name in options.Upstreams.Keys)
            names.Add(name);

        var upstreams = new Dictionary<string, UpstreamRoutes>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in names)
            upstreams[name] = run.Upstream(name);

        var table = new RouteTable
        {
            Version = snapshot.Version,
            CompiledAt = now,
            Upstreams = upstreams.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase),
            Inbound = run.Inbound(),
            Clusters = [.. run.Bindings.Values],
            Intentions = InboundIntentions.Compile(snapshot, options.ServiceName),
        };
        return new CompiledConfig(table, run.Runtimes, run.Commits);
    }

    private sealed class Run(RouteCompiler owner, MeshSnapshot snapshot, IReadOnlyDictionary<string, ClusterRuntime> existing)
    {
        private readonly ServiceDefaultsEntry? _own = snapshot.Entry<ServiceDefaultsEntry>(ConfigKinds.ServiceDefaults, owner.Options.ServiceName);

        public Dictionary<string, ClusterBinding> Bindings { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, ClusterRuntime> Runtimes { get; } = new(StringComparer.Ordinal);
        public List<Action> Commits { get; } = [];

        public UpstreamRoutes Upstream(string service)
        {
            var protocol = ProtocolOf(service);
            var routes = ImmutableArray.CreateBuilder<Route>();
            var router = snapshot.Entry<ServiceRouterEntry>(ConfigKinds.ServiceRouter, service);
            var i = 0;
            foreach (var r in router?.Routes ?? [])
            {
                var where = $"service-router \"{service}\" Routes[{i}]";
                var match = RouteMatch.Compile(r.Match?.Http, where);
                var rewritten = r.Match?.Http?.PathPrefix ?? r.Match?.Http?.PathExact;
                routes.Add(new Route
                {
                    Name = i.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Match = match,
                    Action = Action(service, r.Destination, rewritten, where),
                    Stats = owner.Metrics.Route(Directions.Outbound, service, i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                });
                i++;
            }

            routes.Add(new Route
            {
                Name = "default",
                Match = RouteMatch.Any,
                Action = Action(service, null, null, $"upstream \"{service}\""),
                Stats = owner.Metrics.Route(Directions.Outbound, service, "default"),
            });
            return new UpstreamRoutes { Service = service, Protocol = protocol, Routes = routes.ToImmutable() };
        }

        public UpstreamRoutes Inbound()
        {
            var name = owner.Options.ServiceName;
            var app = owner.Options.AppAddress;
            var endpoint = new MeshEndpoint { Id = "local-app", Node = "local", Address = app.Address.ToString(), Port = app.Port };
            var settings = new ClusterSettings
            {
                Policy = LoadBalancingPolicies.RoundRobin,
                // The app beside us is the only place inbound traffic can go: never eject it.
                Outlier = OutlierSettings.Default with { ConsecutiveFailures = 0 },
            };
            var clusterName = "local-app";
            var runtime = Runtime(clusterName, settings);
            Commits.Add(() => runtime.Cluster.Update(settings, [endpoint]));
            var invoker = owner.Transport.Invoker(PeerKind.LocalApp, name, DefaultConnectTimeout, int.MaxValue);
            var binding = new ClusterBinding
            {
                Name = clusterName,
                Service = name,
                Protocol = ProtocolOf(name),
                Cluster = runtime.Cluster,
                Limiter = runtime.Limiter,
                Budget = runtime.Budget,
                Settings = settings,
                ConnectTimeout = DefaultConnectTimeout,
                DirectInvoker = invoker,
                SidecarInvoker = invoker,
                Endpoints = [endpoint],
                ServiceEndpointCount = 1,
                Prefixes = new Dictionary<string, string> { [endpoint.Id] = "http://" + endpoint.HostPort }.ToFrozenDictionary(),
            };
            Bindings[clusterName] = binding;
            return new UpstreamRoutes
            {
                Service = name,
                Protocol = binding.Protocol,
                Routes =
                [
                    new Route
                    {
                        Name = "app",
                        Match = RouteMatch.Any,
                        Action = new RouteAction { Targets = [new SplitTarget(100, binding)], Retry = RetryPolicy.None },
                        Stats = owner.Metrics.Route(Directions.Inbound, name, "app"),
                    },
                ],
            };
        }

        private RouteAction Action(string upstream, ServiceRouteDestination? destination, string? matchedPrefix, string where)
        {
            var service = string.IsNullOrEmpty(destination?.Service) ? upstream : destination.Service;
            var subset = string.IsNullOrEmpty(destination?.ServiceSubset) ? null : destination.ServiceSubset;
            var targets = ImmutableArray.CreateBuilder<SplitTarget>();
            var splitter = subset is null ? snapshot.Entry<ServiceSplitterEntry>(ConfigKinds.ServiceSplitter, service) : null;
            if (splitter is { Splits.Count: > 0 })
            {
                double sum = 0;
                foreach (var split in splitter.Splits)
                {
                    if (split.Weight < 0 || double.IsNaN(split.Weight))
                        throw new ConfigRejectedException($"service-splitter \"{service}\": weight {split.Weight} is negative");
                    sum += split.Weight;
                }

                if (Math.Abs(sum - 100) > 0.01)
                    throw new ConfigRejectedException($"service-splitter \"{service}\": split weights sum to {sum}, not 100");
                double upTo = 0;
                foreach (var split in splitter.Splits)
                {
                    if (split.Weight == 0)
                        continue;
                    upTo += split.Weight;
                    var splitService = string.IsNullOrEmpty(split.Service) ? service : split.Service;
                    targets.Add(new SplitTarget(upTo, Bind(splitService, string.IsNullOrEmpty(split.ServiceSubset) ? null : split.ServiceSubset, $"service-splitter \"{service}\"")));
                }
            }
            else
            {
                targets.Add(new SplitTarget(100, Bind(service, subset, where)));
            }

            var retry = RetryPolicy.Default;
            if (destination is not null)
            {
                retry = RetryPolicy.Compile(destination.NumRetries, destination.RetryOnConnectFailure, destination.RetryOnStatusCodes, destination.RetryOn, out var error)
                    ?? throw new ConfigRejectedException($"{where}: {error}");
            }

            var first = targets[0].Binding;
            return new RouteAction
            {
                Targets = targets.ToImmutable(),
                PrefixRewrite = destination?.PrefixRewrite,
                RewrittenPrefix = destination?.PrefixRewrite is null ? null : matchedPrefix ?? "",
                RequestTimeout = Positive(destination?.RequestTimeout) ?? first.RequestTimeout,
                PerTryTimeout = Positive(destination?.PerTryTimeout),
                Retry = retry,
            };
        }

        private ClusterBinding Bind(string service, string? subset, string where)
        {
            var resolver = snapshot.Entry<ServiceResolverEntry>(ConfigKinds.ServiceResolver, service);
            subset ??= string.IsNullOrEmpty(resolver?.DefaultSubset) ? null : resolver.DefaultSubset;
            var name = subset is null ? service : $"{service}/{subset}";
            if (Bindings.TryGetValue(name, out var bound))
                return bound;

            var all = snapshot.Endpoints.TryGetValue(service, out var e) ? e : [];
            var endpoints = all;
            if (subset is not null)
            {
                if (resolver?.Subsets is null || !resolver.Subsets.TryGetValue(subset, out var definition))
                    throw new ConfigRejectedException($"{where}: subset \"{subset}\" of service \"{service}\" is not defined by its service-resolver");
                var filter = SubsetFilter.Compile(definition.Filter, $"service-resolver \"{service}\" subset \"{subset}\"");
                var kept = ImmutableArray.CreateBuilder<MeshEndpoint>();
                foreach (var endpoint in all)
                {
                    if (filter(endpoint) && (!definition.OnlyPassing || endpoint.Health == "passing"))
                        kept.Add(endpoint);
                }

                endpoints = kept.ToImmutable();
            }

            var upstream = UpstreamSettingsFor(service);
            var settings = Settings(service, resolver?.LoadBalancer, upstream?.PassiveHealthCheck);
            var connectTimeout = Positive(resolver?.ConnectTimeout)
                ?? (upstream?.ConnectTimeoutMs is > 0 ? TimeSpan.FromMilliseconds(upstream.ConnectTimeoutMs.Value) : DefaultConnectTimeout);
            var limits = upstream?.Limits;
            var maxConnections = limits?.MaxConnections is > 0 ? limits.MaxConnections.Value : int.MaxValue;
            var runtime = Runtime(name, settings);
            var finalEndpoints = endpoints;
            Commits.Add(() =>
            {
                runtime.Cluster.Update(settings, finalEndpoints);
                runtime.Limiter.SetLimits(limits?.MaxConcurrentRequests, limits?.MaxConnections, limits?.MaxPendingRequests);
            });

            var prefixes = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var endpoint in endpoints)
                prefixes[endpoint.Id] = "http://" + endpoint.HostPort;

            var binding = new ClusterBinding
            {
                Name = name,
                Service = service,
                Subset = subset,
                Protocol = ProtocolOf(service),
                Cluster = runtime.Cluster,
                Limiter = runtime.Limiter,
                Budget = runtime.Budget,
                Settings = settings,
                ConnectTimeout = connectTimeout,
                RequestTimeout = Positive(resolver?.RequestTimeout),
                DirectInvoker = owner.Transport.Invoker(PeerKind.Direct, service, connectTimeout, maxConnections),
                SidecarInvoker = owner.Transport.Invoker(PeerKind.Sidecar, service, connectTimeout, maxConnections),
                SidecarH2 = owner.Options.FastH2 ? owner.Transport.SidecarH2(service, connectTimeout, maxConnections) : null,
                Endpoints = endpoints,
                Http1Direct = ProtocolOf(service) == Protocols.Http && maxConnections == int.MaxValue
                    && settings.Policy is not (LoadBalancingPolicies.RingHash or LoadBalancingPolicies.Maglev)
                    && endpoints.All(static e => !e.Sidecar),
                Http1Sidecars = ProtocolOf(service) == Protocols.Http
                    && settings.Policy is not (LoadBalancingPolicies.RingHash or LoadBalancingPolicies.Maglev)
                    && !endpoints.IsEmpty && endpoints.All(static e => e.Sidecar),
                ServiceEndpointCount = all.Length,
                Prefixes = prefixes.ToFrozenDictionary(StringComparer.Ordinal),
            };
            Bindings[name] = binding;
            return binding;
        }

        public static void Validate(ServiceResolverEntry resolver)
        {
            Settings(resolver.Name, resolver.LoadBalancer, null);
            foreach (var (subset, definition) in resolver.Subsets ?? [])
                SubsetFilter.Compile(definition.Filter, $"service-resolver \"{resolver.Name}\" subset \"{subset}\"");
            if (!string.IsNullOrEmpty(resolver.DefaultSubset) && resolver.Subsets?.ContainsKey(resolver.DefaultSubset) != true)
                throw new ConfigRejectedException($"service-resolver \"{resolver.Name}\": DefaultSubset \"{resolver.DefaultSubset}\" is not one of its Subsets");
        }

        private ClusterRuntime Runtime(string name, ClusterSettings settings)
        {
            if (Runtimes.TryGetValue(name, out var runtime))
                return runtime;
            runtime = existing.TryGetValue(name, out var kept)
                ? kept
                : new ClusterRuntime(new Cluster(name, settings, owner.Options.Time), new RequestLimiter(), new RetryBudget(owner.Options.Time));
            Runtimes[name] = runtime;
            return runtime;
        }

        private UpstreamSettings? UpstreamSettingsFor(string service)
        {
            var defaults = _own?.UpstreamConfig?.Defaults;
            UpstreamSettings? over = null;
            foreach (var o in _own?.UpstreamConfig?.Overrides ?? [])
            {
                if (string.Equals(o.Name, service, StringComparison.OrdinalIgnoreCase))
                    over = o;
            }

            if (over is null)
                return defaults;
            if (defaults is null)
                return over;
            return new UpstreamSettings
            {
                Name = service,
                ConnectTimeoutMs = over.ConnectTimeoutMs ?? defaults.ConnectTimeoutMs,
                Limits = over.Limits ?? defaults.Limits,
                PassiveHealthCheck = over.PassiveHealthCheck ?? defaults.PassiveHealthCheck,
            };
        }

        private static ClusterSettings Settings(string service, LoadBalancerConfig? lb, PassiveHealthCheck? passive)
        {
            var policy = lb?.Policy?.Trim().ToLowerInvariant() ?? LoadBalancingPolicies.PeakEwma;
            if (!Policies.Contains(policy))
                throw new ConfigRejectedException($"service-resolver \"{service}\": unknown LoadBalancer.Policy \"{lb?.Policy}\" (known: round_robin, random, least_request, ring_hash, maglev, or empty for Weft's latency-aware default)");
            var outlier = OutlierSettings.Default;
            if (passive is not null)
            {
                outlier = new OutlierSettings
                {
                    ConsecutiveFailures = passive.MaxFailures ?? outlier.ConsecutiveFailures,
                    EnforcingPercent = passive.EnforcingConsecutive5xx ?? outlier.EnforcingPercent,
                    Interval = Positive(passive.Interval) ?? outlier.Interval,
                    BaseEjectionTime = Positive(passive.BaseEjectionTime) ?? outlier.BaseEjectionTime,
                    MaxEjectionPercent = passive.MaxEjectionPercent ?? outlier.MaxEjectionPercent,
                };
            }

            return new ClusterSettings
            {
                Policy = policy,
                ChoiceCount = lb?.LeastRequestConfig?.ChoiceCount is > 1 ? lb.LeastRequestConfig.ChoiceCount.Value : 2,
                MinimumRingSize = lb?.RingHashConfig?.MinimumRingSize ?? ClusterSettings.Default.MinimumRingSize,
                MaximumRingSize = lb?.RingHashConfig?.MaximumRingSize ?? ClusterSettings.Default.MaximumRingSize,
                HashPolicies = lb?.HashPolicies is null ? [] : [.. lb.HashPolicies],
                Outlier = outlier,
            };
        }

        private string ProtocolOf(string service)
        {
            var protocol = snapshot.Entry<ServiceDefaultsEntry>(ConfigKinds.ServiceDefaults, service)?.Protocol?.Trim().ToLowerInvariant();
            return protocol switch
            {
                null or "" => Protocols.Http,
                Protocols.Http or Protocols.Http2 or Protocols.Grpc or Protocols.Tcp => protocol,
                _ => throw new ConfigRejectedException($"service-defaults \"{service}\": unknown Protocol \"{protocol}\" (known: http, http2, grpc, tcp)"),
            };
        }

        private static TimeSpan? Positive(TimeSpan? t) => t > TimeSpan.Zero ? t : null;
    }

    public ProxyOptions Options => options;
    private IUpstreamTransport Transport => transport;
    private ProxyMetrics Metrics => metrics;
}
