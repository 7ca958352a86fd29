using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Weft.Proxy.Metrics;
using Weft.Proxy.Routing;
using Weft.Proxy.Tcp;

namespace Weft.Proxy.Listeners;

/// <summary>
/// Connection middleware of every listener: tags the connection with its <see cref="Listener"/>, counts it, hands it
/// to the raw TCP proxy when its upstream's protocol is <c>tcp</c>, and otherwise lets Kestrel speak HTTP — choosing
/// HTTP/2 when the client opens with the HTTP/2 preface. Kestrel (as of .NET 10) always picks HTTP/1.1 on a cleartext
/// endpoint that allows both, because there is no ALPN (dotnet/aspnetcore#56984). Its protocol choice reads two
/// connection features, so for a connection that starts with the preface we present a TLS connection feature with no
/// certificate and "h2" as the negotiated protocol: sidecars get h2c and apps HTTP/1.1 on the same port. Cleartext
/// HTTP/1.1 on the outbound and upstream listeners goes to the <see cref="FastPath.Http1FastPath"/> first. Nothing else
/// is affected: the request scheme comes from <c>:scheme</c> (<c>AllowAlternateSchemes</c>), and HTTP/2's TLS checks
/// read the handshake feature, which stays absent. When Kestrel ships preface detection, this goes.
/// </summary>
internal sealed class ListenerConnections(Listener listener, MeshConfig config, TcpProxy tcp, ListenerStats stats, TimeProvider time,
    FastPath.Http1FastPath? fastPath = null, OwnH2Server? ownH2 = null)
{
    /// <summary>How long a new connection may stay silent before Kestrel's own timeouts take over.</summary>
    public static readonly TimeSpan FirstBytesTimeout = TimeSpan.FromSeconds(15);

    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    public Func<ConnectionDelegate, ConnectionDelegate> Middleware => next => connection => OnConnectionAsync(connection, next);

    private async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        stats.Opened();
        try
        {
            connection.Features.Set(listener);
            if (listener.Kind != ListenerKind.Admin && TcpTarget() is { } upstream)
            {
                if (listener.Kind == ListenerKind.Inbound && !tcp.Admit(connection, config.Table.Intentions))
                    return;
                await tcp.ProxyAsync(connection, upstream);
                return;
            }

            var http2 = false;
            // Over TLS, ALPN already chose the protocol.
            var tls = connection.Features.Get<ITlsHandshakeFeature>() is not null;
            if (listener.Kind != ListenerKind.Admin && !tls)
            {
                if (await StartsWithHttp2PrefaceAsync(connection, time) is not { } preface)
                    return; // silent, or gone before saying anything
                http2 = preface;
            }

            // Our own HTTP/2 server (OwnH2Server) takes our own client's connections on the inbound listener and the app's
            // h2c on the outbound and upstream ones; the rest go on to Kestrel.
            if (ownH2 is not null && listener.Kind == ListenerKind.Inbound
                && (http2 || tls && connection.Features.Get<ITlsApplicationProtocolFeature>()?.ApplicationProtocol.Span.SequenceEqual("h2"u8) == true)
                && await ownH2.TryServeAsync(connection, time))
                return;
            if (ownH2 is not null && http2 && listener.Kind is ListenerKind.Outbound or ListenerKind.Upstream
                && await ownH2.TryServeAppAsync(connection, time))
                return;

            if (http2)
            {
                connection.Features.Set<ITlsApplicationProtocolFeature>(Http2Selected.Instance);
                connection.Features.Set<ITlsConnectionFeature>(Http2Selected.Instance);
            }
            else if (fastPath is not null && listener.Kind is ListenerKind.Outbound or ListenerKind.Upstream)
            {
                // Plain HTTP/1.1 from the app: the fast path serves what it can and hands Kestrel the rest.
                await fastPath.ServeAsync(connection, listener, next);
                return;
            }

            await next(connection);
        }
        finally
        {
            stats.Closed();
        }
    }

    private UpstreamRoutes? TcpTarget()
    {
        var table = config.Table;
        return listener.Kind switch
        {
            ListenerKind.Inbound when table.Inbound.IsTcp => table.Inbound,
            ListenerKind.Upstream when table.TryGetUpstream(listener.Name, out var routes) && routes.IsTcp => routes,
            _ => null,
        };
    }

    /// <summary>Peeks at the first bytes without consuming them; null when none came in time.</summary>
    private static async ValueTask<bool?> StartsWithHttp2PrefaceAsync(ConnectionContext connection, TimeProvider time)
    {
        var input = connection.Transport.Input;
        using var timeout = new CancellationTokenSource(FirstBytesTimeout, time);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                return null;
            }

            var buffer = result.Buffer;
            var length = (int)Math.Min(buffer.Length, Preface.Length);
            var matches = PrefixMatches(buffer, length);
            if (length == 0 && result.IsCompleted)
                return null;
            if (!matches || length == Preface.Length || result.IsCompleted)
            {
                // Examined nothing: Kestrel's first read sees the same bytes at once.
                input.AdvanceTo(buffer.Start);
                return matches && length == Preface.Length;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static bool PrefixMatches(in ReadOnlySequence<byte> buffer, int length)
    {
        Span<byte> head = stackalloc byte[Preface.Length];
        buffer.Slice(0, length).CopyTo(head);
        return head[..length].SequenceEqual(Preface.AsSpan(0, length));
    }

    private sealed class Http2Selected : ITlsApplicationProtocolFeature, ITlsConnectionFeature
    {
        public static readonly Http2Selected Instance = new();

        private static readonly ReadOnlyMemory<byte> H2 = "h2"u8.ToArray();

        public ReadOnlyMemory<byte> ApplicationProtocol => H2;

        public System.Security.Cryptography.X509Certificates.X509Certificate2? ClientCertificate
        {
            get => null;
            set { }
        }

        public Task<System.Security.Cryptography.X509Certificates.X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) =>
            Task.FromResult<System.Security.Cryptography.X509Certificates.X509Certificate2?>(null);
    }
}
