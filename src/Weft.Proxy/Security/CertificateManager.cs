using Microsoft.Extensions.Logging;
using Weft.Core.Identity;

namespace Weft.Proxy.Security;

/// <summary>
/// Keeps a sidecar's <see cref="WorkloadTls"/> current: a fresh P-256 key and CSR for every certificate (the key stays
/// in this process), signed by the control plane's CA; renewal at a random point between 50% and 70% of the
/// certificate's lifetime, retried with backoff while the current one is still good; and the trust bundle followed with
/// a blocking query on the CA roots. When the control plane is gone the sidecar keeps its certificate until it expires.
/// </summary>
internal sealed partial class CertificateManager : IAsyncDisposable
{
    public const double RenewFrom = 0.5;
    public const double RenewTo = 0.7;
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RootsWait = TimeSpan.FromMinutes(5);

    private readonly ICertificateAuthority _ca;
    private readonly string _service;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Random _random;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private ITimer? _renewTimer;
    private Task _renewing = Task.CompletedTask;
    private Task _watching = Task.CompletedTask;
    private long _renewals;

    private CertificateManager(ICertificateAuthority ca, string service, TimeProvider time, ILogger log, Random random, WorkloadTls tls)
    {
        _ca = ca;
        _service = service;
        _time = time;
        _log = log;
        _random = random;
        Tls = tls;
    }

    public WorkloadTls Tls { get; }

    /// <summary>Certificates obtained after the first.</summary>
    public long Renewals => Interlocked.Read(ref _renewals);

    /// <summary>When the current certificate is due for renewal.</summary>
    public DateTimeOffset RenewAt { get; private set; }

    /// <summary>
    /// Fetches the trust bundle and the first certificate, retrying transient failures until <paramref name="deadline"/>
    /// (a refusal — 403, 400 — fails at once), then keeps both current in the background.
    /// </summary>
    public static async Task<CertificateManager> StartAsync(ICertificateAuthority ca, string service, TimeProvider time, ILogger log,
        TimeSpan deadline, CancellationToken cancellationToken, Random? random = null)
    {
        LogWaitingForFirst(log, service);
        var until = time.GetUtcNow() + deadline;
        var bundle = await RetryAsync(() => ca.RootsAsync(0, TimeSpan.Zero, cancellationToken), "fetch the CA roots", until, time, log, cancellationToken);
        var certificate = await RetryAsync(() => IssueAsync(ca, bundle.TrustDomain, service, time, cancellationToken), "get a certificate", until, time, log, cancellationToken);
        var manager = new CertificateManager(ca, service, time, log, random ?? Random.Shared, new WorkloadTls(certificate, bundle, time, log));
        LogFirst(log, certificate.Id, certificate.SerialNumber, certificate.NotAfter);
        manager.Schedule(certificate);
        manager._watching = manager.WatchRootsAsync(bundle.Index);
        return manager;
    }

    private static async Task<WorkloadCertificate> IssueAsync(ICertificateAuthority ca, string trustDomain, string service, TimeProvider time, CancellationToken cancellationToken)
    {
        var (key, csr) = WorkloadCertificate.NewRequest(SpiffeId.ForService(trustDomain, service));
        try
        {
            var pem = await ca.SignAsync(csr, cancellationToken);
            return WorkloadCertificate.FromPem(pem, key, time.GetUtcNow());
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private static async Task<T> RetryAsync<T>(Func<Task<T>> attempt, string what, DateTimeOffset until, TimeProvider time, ILogger log, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            try
            {
                return await attempt();
            }
            catch (Exception e) when (IsTransient(e) && time.GetUtcNow() + delay < until && !cancellationToken.IsCancellationRequested)
            {
                LogRetrying(log, what, delay, e.Message);
                await Task.Delay(delay, time, cancellationToken);
                delay = Next(delay);
            }
        }
    }

    private static bool IsTransient(Exception e) =>
        e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException or System.Security.Cryptography.CryptographicException
            or CertificateAuthorityException { Permanent: false };

    private static TimeSpan Next(TimeSpan delay) => TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxBackoff.Ticks));

    private void Schedule(WorkloadCertificate certificate)
    {
        var (start, lifetime) = certificate.Lifetime;
        var at = start + lifetime * (RenewFrom + (RenewTo - RenewFrom) * _random.NextDouble());
        lock (_gate)
        {
            if (_stopping.IsCancellationRequested)
                return;
            RenewAt = at;
            _renewTimer?.Dispose();
            var due = at - _time.GetUtcNow();
            _renewTimer = _time.CreateTimer(_ => StartRenewal(), null, due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }

        LogRenewalScheduled(_log, certificate.SerialNumber, at);
    }

    private void StartRenewal()
    {
        lock (_gate)
        {
            if (_stopping.IsCancellationRequested || !_renewing.IsCompleted)
                return;
            _renewing = RenewAsync(_stopping.Token);
        }
    }

    private async Task RenewAsync(CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (!cancellationToken.IsCancellationRequested)
        {
            var current = Tls.Certificate;
            try
            {
                var renewed = await IssueAsync(_ca, Tls.Bundle.TrustDomain, _service, _time, cancellationToken);
                Tls.Update(renewed);
                Interlocked.Increment(ref _renewals);
                LogRenewed(_log, renewed.Id, renewed.SerialNumber, renewed.NotAfter);
                Schedule(renewed);
                return;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The certificate in hand keeps serving until it expires; after that, handshakes fail until the CA answers.
                var now = _time.GetUtcNow();
                if (now < current.NotAfter)
                    LogRenewFailed(_log, e.Message, current.NotAfter, delay);
                else
                    LogExpired(_log, e.Message, current.NotAfter, delay);
            }

            try
            {
                await Task.Delay(delay, _time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = Next(delay);
        }
    }

    private async Task WatchRootsAsync(ulong index)
    {
        var cancellationToken = _stopping.Token;
        var delay = TimeSpan.FromSeconds(1);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var bundle = await _ca.RootsAsync(Math.Max(index, 1), RootsWait, cancellationToken);
                delay = TimeSpan.FromSeconds(1);
                // A blocking query may return unchanged (wait elapsed); an index that went backwards means the server restarted fresh.
                if (bundle.Index == index && index != 0)
                    continue;
                index = bundle.Index < index ? 0 : bundle.Index;
                var previous = Tls.Bundle;
                Tls.Update(bundle);
                if (previous.ActiveRootId != bundle.ActiveRootId || previous.Roots.Length != bundle.Roots.Length)
                    LogBundleChanged(_log, bundle.ActiveRootId, bundle.Roots.Length);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                LogRootsFailed(_log, e.Message, delay);
                try
                {
                    await Task.Delay(delay, _time, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                delay = Next(delay);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task renewing;
        lock (_gate)
        {
            if (_stopping.IsCancellationRequested)
                return;
            _stopping.Cancel();
            _renewTimer?.Dispose();
            renewing = _renewing;
        }

        await Task.WhenAll(renewing, _watching).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "Waiting for the first workload certificate of {Service}: inbound traffic and registration start once it is here")]
    private static partial void LogWaitingForFirst(ILogger logger, string service);

    [LoggerMessage(EventId = 501, Level = LogLevel.Information, Message = "Workload certificate for {Id} (serial {Serial}), valid until {NotAfter:O}")]
    private static partial void LogFirst(ILogger logger, SpiffeId id, string serial, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 502, Level = LogLevel.Warning, Message = "Could not {What} yet, retrying in {Delay}: {Reason}")]
    private static partial void LogRetrying(ILogger logger, string what, TimeSpan delay, string reason);

    [LoggerMessage(EventId = 503, Level = LogLevel.Debug, Message = "Certificate {Serial} renews at {At:O}")]
    private static partial void LogRenewalScheduled(ILogger logger, string serial, DateTimeOffset at);

    [LoggerMessage(EventId = 504, Level = LogLevel.Information, Message = "Renewed the workload certificate for {Id} (serial {Serial}), valid until {NotAfter:O}")]
    private static partial void LogRenewed(ILogger logger, SpiffeId id, string serial, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 505, Level = LogLevel.Warning, Message = "Could not renew the workload certificate ({Reason}); the current one serves until {NotAfter:O}; retrying in {Delay}")]
    private static partial void LogRenewFailed(ILogger logger, string reason, DateTimeOffset notAfter, TimeSpan delay);

    [LoggerMessage(EventId = 506, Level = LogLevel.Error, Message = "The workload certificate expired at {NotAfter:O} and could not be renewed ({Reason}): mTLS handshakes fail until it is; retrying in {Delay}")]
    private static partial void LogExpired(ILogger logger, string reason, DateTimeOffset notAfter, TimeSpan delay);

    [LoggerMessage(EventId = 507, Level = LogLevel.Information, Message = "Trust bundle updated: active root {ActiveRootId}, {Count} root(s) trusted")]
    private static partial void LogBundleChanged(ILogger logger, string activeRootId, int count);

    [LoggerMessage(EventId = 508, Level = LogLevel.Warning, Message = "Could not follow the CA roots ({Reason}); keeping the current trust bundle, retrying in {Delay}")]
    private static partial void LogRootsFailed(ILogger logger, string reason, TimeSpan delay);
}
