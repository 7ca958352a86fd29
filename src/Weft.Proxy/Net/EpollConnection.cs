using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace Weft.Proxy.Net;

/// <summary>Where a connection's completions run: on the engine thread (inline) or on the thread pool.</summary>
internal interface IInlineCompletionsFeature
{
    bool InlineCompletions { get; set; }
}

/// <summary>
/// One accepted connection on the epoll engine, as Kestrel's socket transport presents one: a receive loop into the
/// input pipe, a send loop from the output pipe (both pipes' schedulers inline), <see cref="ConnectionClosed"/> when
/// the receive side ends, a FIN once the output completed, a reset on <see cref="Abort"/>. Completions go to the thread
/// pool (Kestrel's code may block) until the fast path switches them inline through <see cref="IInlineCompletionsFeature"/>.
/// </summary>
internal sealed class EpollConnection : ConnectionContext, IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature,
    IConnectionLifetimeFeature, IConnectionEndPointFeature, IInlineCompletionsFeature, IMemoryPoolFeature
{
    /// <summary>A receive asks for at least this much, so a request head fits one recv (which then reads less than asked: no retry).</summary>
    private const int MinReceive = 2048;

    private static readonly PipeOptions InputOptions = new(pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024,
        readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, useSynchronizationContext: false);

    private static readonly PipeOptions OutputOptions = new(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024,
        readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, useSynchronizationContext: false);

    private static long s_ids;

    private readonly EpollSocket _socket;
    private readonly Pipe _input = new(InputOptions);
    private readonly Pipe _output = new(OutputOptions);
    private readonly CancellationTokenSource _closed = new();
    private readonly TaskCompletionSource _closedFired = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _receiving = Task.CompletedTask;
    private Task _sending = Task.CompletedTask;
    private volatile ConnectionAbortedException? _abortReason;
    private int _closing;
    private string? _id;
    private IDictionary<object, object?>? _items;

    private EpollConnection(Socket accepted)
    {
        LocalEndPoint = accepted.LocalEndPoint;
        RemoteEndPoint = accepted.RemoteEndPoint;
        _socket = new EpollSocket(accepted) { InlineCompletions = false };
        Transport = new DuplexPipe(_input.Reader, _output.Writer);
        ConnectionClosed = _closed.Token;
        var features = new FeatureCollection();
        features.Set<IConnectionIdFeature>(this);
        features.Set<IConnectionTransportFeature>(this);
        features.Set<IConnectionItemsFeature>(this);
        features.Set<IConnectionLifetimeFeature>(this);
        features.Set<IConnectionEndPointFeature>(this);
        features.Set<IInlineCompletionsFeature>(this);
        features.Set<IMemoryPoolFeature>(this);
        Features = features;
    }

    public static EpollConnection Start(Socket accepted)
    {
        var connection = new EpollConnection(accepted);
        connection._receiving = connection.ReceiveAsync();
        connection._sending = connection.SendAsync();
        return connection;
    }

    public override string ConnectionId
    {
        get => _id ??= "E" + Interlocked.Increment(ref s_ids).ToString("X8", System.Globalization.CultureInfo.InvariantCulture);
        set => _id = value;
    }

    public override IFeatureCollection Features { get; }

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new ConnectionItems();
        set => _items = value;
    }

    public override IDuplexPipe Transport { get; set; }

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    public MemoryPool<byte> MemoryPool => BlockPool.Instance;

    public bool InlineCompletions
    {
        get => _socket.InlineCompletions;
        set => _socket.InlineCompletions = value;
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        _abortReason ??= abortReason;
        if (Interlocked.Exchange(ref _closing, 1) == 0)
            _socket.Abort();
        // The send loop stops at once; what it had not sent is dropped.
        _output.Reader.CancelPendingRead();
    }

    public override async ValueTask DisposeAsync()
    {
        // Our own pipes' ends, not Transport's: a middleware (TLS) may have replaced it with its own.
        await _input.Reader.CompleteAsync();
        await _output.Writer.CompleteAsync();
        await _sending;
        await _receiving;
        _socket.Dispose();
        _closed.Dispose();
    }

    private async Task ReceiveAsync()
    {
        var writer = _input.Writer;
        Exception? error = null;
        try
        {
            while (true)
            {
                var n = await _socket.ReceiveAsync(writer.GetMemory(MinReceive));
                if (n == 0)
                    break;
                writer.Advance(n);
                var flush = await writer.FlushAsync();
                if (flush.IsCompleted || flush.IsCanceled)
                    break;
            }
        }
        catch (Exception e)
        {
            error = Translate(e);
        }
        finally
        {
            await writer.CompleteAsync(_abortReason ?? error);
            // As Kestrel's socket transport: the token's callbacks run on the thread pool, not in this loop.
            ThreadPool.UnsafeQueueUserWorkItem(static c =>
            {
                c._closed.Cancel();
                c._closedFired.TrySetResult();
            }, this, preferLocal: false);
            await _closedFired.Task;
        }
    }

    private async Task SendAsync()
    {
        var reader = _output.Reader;
        Exception? error = null;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                if (result.IsCanceled)
                    break;
                var buffer = result.Buffer;
                foreach (var segment in buffer)
                    await _socket.SendAllAsync(segment);
                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                    break;
            }
        }
        catch (Exception e)
        {
            error = Translate(e);
        }
        finally
        {
            if (Interlocked.Exchange(ref _closing, 1) == 0)
            {
                // Done sending (or the peer went): FIN, then the receive loop ends with the close.
                _abortReason ??= new ConnectionAbortedException("the epoll transport's send loop completed");
                try
                {
                    _socket.Shutdown(SocketShutdown.Send);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                }

                _socket.Dispose();
            }

            await reader.CompleteAsync(_abortReason ?? error);
        }
    }

    /// <summary>What Kestrel's socket transport reports for a failed receive or send.</summary>
    private Exception Translate(Exception e) => e switch
    {
        SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted } s when _abortReason is null
            => new ConnectionResetException(s.Message, s),
        SocketException { SocketErrorCode: SocketError.OperationAborted or SocketError.ConnectionAborted or SocketError.Interrupted or SocketError.InvalidArgument or SocketError.ConnectionReset or SocketError.Shutdown }
            or ObjectDisposedException => _abortReason ?? new ConnectionAbortedException(),
        _ => e,
    };

    /// <summary>
    /// What Kestrel's transports give its HTTP code: blocks of at least 4 KiB (its own pool is internal). Kestrel rents
    /// with the size hint it got, 0 included, which from <see cref="MemoryPool{T}.Shared"/> is an empty buffer.
    /// </summary>
    private sealed class BlockPool : MemoryPool<byte>
    {
        public static readonly BlockPool Instance = new();

        public override int MaxBufferSize => 4096;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => new Block(ArrayPool<byte>.Shared.Rent(Math.Max(minBufferSize, MaxBufferSize)));

        protected override void Dispose(bool disposing)
        {
        }

        private sealed class Block(byte[] array) : IMemoryOwner<byte>
        {
            private byte[]? _array = array;

            public Memory<byte> Memory => _array ?? throw new ObjectDisposedException(nameof(Block));

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _array, null) is { } a)
                    ArrayPool<byte>.Shared.Return(a);
            }
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
