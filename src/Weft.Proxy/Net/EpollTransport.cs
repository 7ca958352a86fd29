using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace Weft.Proxy.Net;

/// <summary>A listener address that <see cref="EpollTransportFactory"/> binds (every other one stays on Kestrel's socket transport).</summary>
internal sealed class EngineEndPoint(IPEndPoint address) : IPEndPoint(address.Address, address.Port);

/// <summary>
/// Kestrel's transport for the listeners the sidecar chose (<see cref="EngineEndPoint"/>): accepts with a .NET
/// listening socket (accepting is not hot) and hands each accepted fd to an <see cref="EpollSocket"/>, on which no
/// .NET asynchronous operation ever starts (<see cref="EpollConnection"/>).
/// </summary>
internal sealed class EpollTransportFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    public bool CanBind(EndPoint endpoint) => endpoint is EngineEndPoint && EpollEngine.IsSupported;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var address = (IPEndPoint)endpoint;
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (address.Address.Equals(IPAddress.IPv6Any))
                socket.DualMode = true;
            socket.Bind(new IPEndPoint(address.Address, address.Port));
            socket.Listen(512);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new AddressInUseException(e.Message, e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new ValueTask<IConnectionListener>(new Listener(socket));
    }

    private sealed class Listener(Socket socket) : IConnectionListener
    {
        public EndPoint EndPoint { get; } = socket.LocalEndPoint!;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            while (true)
            {
                Socket accepted;
                try
                {
                    accepted = await socket.AcceptAsync(cancellationToken);
                }
                catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException
                    || e is SocketException { SocketErrorCode: SocketError.OperationAborted or SocketError.Interrupted or SocketError.InvalidArgument })
                {
                    // Unbound or disposed: Kestrel stops accepting.
                    return null;
                }
                catch (SocketException)
                {
                    // The client gave up before it was accepted (reset): the next one.
                    continue;
                }

                try
                {
                    accepted.NoDelay = true;
                    return EpollConnection.Start(accepted);
                }
                catch (SocketException)
                {
                    accepted.Dispose();
                }
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            socket.Dispose();
            return default;
        }

        public ValueTask DisposeAsync()
        {
            socket.Dispose();
            return default;
        }
    }
}
