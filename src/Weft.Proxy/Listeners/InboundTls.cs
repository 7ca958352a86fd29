using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Weft.Proxy.Security;

namespace Weft.Proxy.Listeners;

/// <summary>
/// mTLS on the inbound listener: every handshake takes its options (the current certificate, the current trust bundle)
/// from <see cref="WorkloadTls"/>, so renewals reach new connections while open ones finish. Plaintext, a certificate
/// outside the bundle or the trust domain, an expired or not-yet-valid one: the handshake fails and is counted.
/// </summary>
internal static class InboundTls
{
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    public static void Use(ListenOptions listen, WorkloadTls workload)
    {
        listen.Use(next => async connection =>
        {
            var outcome = new HandshakeOutcome();
            connection.Features.Set(outcome);
            await next(connection);
            if (!outcome.Completed)
                workload.RecordHandshakeFailure();
        });
        listen.UseHttps(new TlsHandshakeCallbackOptions
        {
            HandshakeTimeout = HandshakeTimeout,
            OnConnection = _ => ValueTask.FromResult(workload.ServerOptions()),
        });
        listen.Use(next => connection =>
        {
            connection.Features.Get<HandshakeOutcome>()?.Complete();
            return next(connection);
        });
    }

    private sealed class HandshakeOutcome
    {
        public bool Completed { get; private set; }

        public void Complete() => Completed = true;
    }
}
