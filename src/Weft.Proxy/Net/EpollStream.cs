using System.Net.Sockets;

namespace Weft.Proxy.Net;

/// <summary>
/// A <see cref="Stream"/> over an <see cref="EpollSocket"/>, as <see cref="NetworkStream"/> is over a <see cref="Socket"/>:
/// what <see cref="System.Net.Security.SslStream"/> and the own HTTP/2 client read and write, so the hop between sidecars
/// waits for readable edges too instead of trying a receive first. One reader and one writer at a time (as SslStream
/// itself requires); owns the socket.
/// </summary>
internal sealed class EpollStream(EpollSocket socket) : Stream
{
    public EpollSocket Socket => socket;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        buffer.IsEmpty ? ValueTask.FromResult(0) : Translate(socket.ReceiveAsync(buffer, cancellationToken));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        TranslateWrite(socket.SendAllAsync(buffer, cancellationToken));

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override void Flush() { }

    // Synchronous calls are not on any path of ours (SslStream and the h2 client are asynchronous); kept correct anyway.
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            socket.Dispose();
        base.Dispose(disposing);
    }

    // NetworkStream surfaces socket errors as IOException with the SocketException inside; callers (SslStream, the h2
    // client's connection-failure handling) expect that shape.
    private static async ValueTask<int> Translate(ValueTask<int> pending)
    {
        if (pending.IsCompletedSuccessfully)
            return pending.Result;
        try
        {
            return await pending;
        }
        catch (SocketException e)
        {
            throw new IOException(e.Message, e);
        }
    }

    private static async ValueTask TranslateWrite(ValueTask pending)
    {
        try
        {
            await pending;
        }
        catch (SocketException e)
        {
            throw new IOException(e.Message, e);
        }
    }
}
