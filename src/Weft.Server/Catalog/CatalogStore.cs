using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Weft.Core.Catalog;
using Weft.Server.Metrics;
using Weft.Server.Storage;

namespace Weft.Server.Catalog;

/// <summary>
/// The catalog: an immutable in-memory view served to readers without locks, and one writer that applies
/// operations in order. The writer takes every operation waiting in its queue, commits them to the store in
/// one transaction (group commit), and only then publishes the new view, wakes the topics it touched and
/// acknowledges each operation.
/// </summary>
internal sealed partial class CatalogStore : IAsyncDisposable
{
    private const int MaxBatch = 1024;

    private readonly IStore _store;
    private readonly ILogger _logger;
    private readonly Channel<PendingWrite> _queue = Channel.CreateUnbounded<PendingWrite>(new() { SingleReader = true });
    private CatalogState _state = CatalogState.Empty;
    private Task? _writer;

    private readonly ServerMetrics _metrics;

    public CatalogStore(IStore store, ServerMetrics metrics, ILogger<CatalogStore> logger)
    {
        _store = store;
        _metrics = metrics;
        _logger = logger;
    }

    public CatalogState Current => Volatile.Read(ref _state);

    public WatchHub Watches { get; } = new();

    /// <summary>Raised on the writer after each commit is published; handlers must return quickly.</summary>
    public event Action<CatalogState, IReadOnlyList<CatalogChange>>? Committed;

    public string Location => _store.Location;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Volatile.Write(ref _state, await _store.LoadAsync(cancellationToken));
        _writer = Task.Run(WriteLoopAsync, CancellationToken.None);
    }

    /// <summary>
    /// Runs <paramref name="operation"/> on the writer and completes once its changes are durable. An
    /// operation that throws changes nothing; its exception reaches the caller.
    /// </summary>
    public Task<T> WriteAsync<T>(Func<CatalogTransaction, T> operation)
    {
        var write = new PendingWrite<T>(operation);
        if (!_queue.Writer.TryWrite(write))
            throw new ObjectDisposedException(nameof(CatalogStore), "the catalog is shutting down");
        return write.Completion.Task;
    }

    public Task WriteAsync(Action<CatalogTransaction> operation) =>
        WriteAsync<bool>(tx =>
        {
            operation(tx);
            return true;
        });

    private async Task WriteLoopAsync()
    {
        var batch = new List<PendingWrite>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var write))
                batch.Add(write);

            var current = Current;
            var tx = new CatalogTransaction(current, current.Index + 1);
            foreach (var write in batch)
            {
                var mark = tx.Mark();
                try
                {
                    write.Run(tx);
                }
                catch (Exception e)
                {
                    tx.Rollback(mark);
                    write.Fail(e);
                }
            }

            if (tx.HasChanges)
            {
                var changes = tx.Complete();
                try
                {
                    var started = System.Diagnostics.Stopwatch.GetTimestamp();
                    var index = await _store.CommitAsync(changes, tx.ProvisionalIndex, CancellationToken.None);
                    _metrics.StoreCommit.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started));
                    var next = index == tx.ProvisionalIndex ? tx.State : current.Apply(changes, index);
                    Volatile.Write(ref _state, next);
                    Count(current, changes);
                    Publish(next, changes);
                }
                catch (Exception e)
                {
                    LogCommitFailed(e, batch.Count);
                    foreach (var write in batch) write.Fail(new StoreUnavailableException("the store could not commit the write", e));
                    continue;
                }
            }

            foreach (var write in batch) write.Succeed();
        }
    }

    /// <summary>New instances, removed instances and check status changes of one commit, against the view before it.</summary>
    private void Count(CatalogState before, IReadOnlyList<CatalogChange> changes)
    {
        foreach (var change in changes)
        {
            switch (change)
            {
                case CatalogChange.ServiceUpsert upsert when !before.Services.ContainsKey(upsert.Service.Key):
                    _metrics.Registered();
                    break;
                case CatalogChange.ServiceDelete delete when before.Services.ContainsKey(delete.Key):
                    _metrics.Deregistered();
                    break;
                case CatalogChange.CheckUpsert check when before.Checks.TryGetValue(check.Check.Key, out var old) && old.Status != check.Check.Status:
                    _metrics.HealthTransition(check.Check.Status);
                    break;
            }
        }
    }

    private void Publish(CatalogState state, IReadOnlyList<CatalogChange> changes)
    {
        foreach (var change in changes)
        {
            if (change is CatalogChange.TopicTouch touch)
                Watches.Signal(touch.Topic);
        }

        try
        {
            Committed?.Invoke(state, changes);
        }
        catch (Exception e)
        {
            LogSubscriberFailed(e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_writer is not null) await _writer;
        await _store.DisposeAsync();
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Error, Message = "Commit of {Count} writes failed; none were acknowledged")]
    private partial void LogCommitFailed(Exception e, int count);

    [LoggerMessage(EventId = 101, Level = LogLevel.Error, Message = "A catalog subscriber failed")]
    private partial void LogSubscriberFailed(Exception e);

    private abstract class PendingWrite
    {
        public abstract void Run(CatalogTransaction tx);
        public abstract void Fail(Exception e);
        public abstract void Succeed();
    }

    private sealed class PendingWrite<T>(Func<CatalogTransaction, T> operation) : PendingWrite
    {
        private T? _result;
        private bool _failed;

        public TaskCompletionSource<T> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Run(CatalogTransaction tx) => _result = operation(tx);

        public override void Fail(Exception e)
        {
            _failed = true;
            Completion.TrySetException(e);
        }

        public override void Succeed()
        {
            if (!_failed) Completion.TrySetResult(_result!);
        }
    }
}

/// <summary>The store failed under a write; the write was not applied.</summary>
internal sealed class StoreUnavailableException(string message, Exception inner) : Exception(message, inner);
