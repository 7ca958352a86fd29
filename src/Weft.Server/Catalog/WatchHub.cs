using System.Collections.Concurrent;

namespace Weft.Server.Catalog;

/// <summary>
/// Wakes blocking queries by topic. All waiters on one topic share one task, so a thousand watchers of a
/// service cost one allocation per change, and a change signals only the topics it touched.
/// </summary>
internal sealed class WatchHub
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new(StringComparer.Ordinal);

    /// <summary>
    /// A task that completes at the next change to <paramref name="topic"/>. Take it before reading the
    /// state it guards, so a change between the read and the wait is not missed.
    /// </summary>
    public Task Next(string topic) =>
        _waiters.GetOrAdd(topic, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public void Signal(string topic)
    {
        if (_waiters.TryRemove(topic, out var waiter))
            waiter.TrySetResult();
    }

    /// <summary>How many topics have someone waiting on them (for metrics and tests).</summary>
    public int WatchedTopics => _waiters.Count;
}
