using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace Weft.Proxy.Net;

/// <summary>
/// An async method builder for <see cref="ValueTask"/> methods on the request path, with the contract of
/// <see cref="PoolingAsyncValueTaskMethodBuilder"/> (the returned task is awaited once) and a bigger pool. The runtime's
/// keeps one state machine box per thread and one per core for each method: with 100 requests in flight on the epoll
/// engine's one thread, nearly every call missed it and allocated its box (about 1.7 KB per request in the server
/// sidecar, 10 boxes). This one keeps up to <see cref="LocalPool.MaxPerThread"/> boxes per method on each thread, on
/// the thread that awaited the result, which for the engine is the thread that started the call.
/// </summary>
[StructLayout(LayoutKind.Auto)]
internal struct LocalPoolBuilder
{
    private LocalPoolBuilder<LocalPool.Unit> _inner;

    public static LocalPoolBuilder Create() => default;

    public readonly ValueTask Task => _inner.UntypedTask;

    public void Start<TStateMachine>(ref TStateMachine stateMachine) where TStateMachine : IAsyncStateMachine =>
        AsyncValueTaskMethodBuilder.Create().Start(ref stateMachine);

    public readonly void SetStateMachine(IAsyncStateMachine stateMachine) => ArgumentNullException.ThrowIfNull(stateMachine);

    public void SetResult() => _inner.SetResult(default);

    public void SetException(Exception exception) => _inner.SetException(exception);

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion where TStateMachine : IAsyncStateMachine =>
        _inner.AwaitOnCompleted(ref awaiter, ref stateMachine);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion where TStateMachine : IAsyncStateMachine =>
        _inner.AwaitUnsafeOnCompleted(ref awaiter, ref stateMachine);
}

/// <summary><see cref="LocalPoolBuilder"/> for <see cref="ValueTask{TResult}"/> methods.</summary>
[StructLayout(LayoutKind.Auto)]
internal struct LocalPoolBuilder<TResult>
{
    // Set at the first await that did not complete; until then the result (or exception) is kept here, allocation-free.
    private LocalPool.Box<TResult>? _box;
    private TResult _result;
    private Exception? _exception;

    public static LocalPoolBuilder<TResult> Create() => default;

    public readonly ValueTask<TResult> Task =>
        _box is { } box ? new ValueTask<TResult>(box, box.Version)
        : _exception is { } e ? ValueTask.FromException<TResult>(e)
        : new ValueTask<TResult>(_result);

    internal readonly ValueTask UntypedTask =>
        _box is { } box ? new ValueTask(box, box.Version)
        : _exception is { } e ? ValueTask.FromException(e)
        : default;

    public void Start<TStateMachine>(ref TStateMachine stateMachine) where TStateMachine : IAsyncStateMachine =>
        AsyncValueTaskMethodBuilder.Create().Start(ref stateMachine);

    public readonly void SetStateMachine(IAsyncStateMachine stateMachine) => ArgumentNullException.ThrowIfNull(stateMachine);

    public void SetResult(TResult result)
    {
        // Completing the box runs the awaiter's continuation inline, which may return the box to the pool and reuse it:
        // nothing of this builder (which lives in the box) is touched after.
        if (_box is { } box)
            box.SetResult(result);
        else
            _result = result;
    }

    public void SetException(Exception exception)
    {
        if (_box is { } box)
            box.SetException(exception);
        else
            _exception = exception;
    }

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion where TStateMachine : IAsyncStateMachine =>
        awaiter.OnCompleted(BoxOf(ref stateMachine).MoveNextAction);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion where TStateMachine : IAsyncStateMachine =>
        awaiter.UnsafeOnCompleted(BoxOf(ref stateMachine).MoveNextAction);

    private LocalPool.Box<TResult, TStateMachine> BoxOf<TStateMachine>(ref TStateMachine stateMachine) where TStateMachine : IAsyncStateMachine
    {
        // Captured at every await, as the runtime's builders do: the method may have changed an AsyncLocal since the last.
        var context = ExecutionContext.Capture();
        if (_box is LocalPool.Box<TResult, TStateMachine> known)
        {
            known.Context = context;
            return known;
        }

        // First await: the box goes into this builder before the state machine (with this builder in it) is copied into
        // the box, so that the caller, which reads Task from the original, and the copy both see it.
        var box = LocalPool.Box<TResult, TStateMachine>.Rent();
        _box = box;
        box.StateMachine = stateMachine;
        box.Context = context;
        return box;
    }
}

internal static class LocalPool
{
    /// <summary>Boxes kept per async method per thread: more than the requests one engine thread has in flight in the benchmarks (100).</summary>
    public const int MaxPerThread = 256;

    public readonly struct Unit;

    /// <summary>The result side of a box: what a <see cref="ValueTask"/> awaits.</summary>
    public abstract class Box<TResult> : IValueTaskSource<TResult>, IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<TResult> _core;

        public short Version => _core.Version;

        public void SetResult(TResult result) => _core.SetResult(result);

        public void SetException(Exception exception) => _core.SetException(exception);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        public TResult GetResult(short token)
        {
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                _core.Reset();
                Return();
            }
        }

        void IValueTaskSource.GetResult(short token) => GetResult(token);

        protected abstract void Return();
    }

    /// <summary>The state machine of one call, and how its continuation runs: in the context captured at its await.</summary>
    public sealed class Box<TResult, TStateMachine> : Box<TResult> where TStateMachine : IAsyncStateMachine
    {
        [ThreadStatic]
        private static Stack<Box<TResult, TStateMachine>>? t_free;

        private static readonly ContextCallback RunInContext = static s => ((Box<TResult, TStateMachine>)s!).StateMachine.MoveNext();

        public TStateMachine StateMachine = default!;
        public ExecutionContext? Context;

        public Box() => MoveNextAction = MoveNext;

        public Action MoveNextAction { get; }

        public static Box<TResult, TStateMachine> Rent() =>
            t_free is { Count: > 0 } free ? free.Pop() : new Box<TResult, TStateMachine>();

        private void MoveNext()
        {
            if (Context is { } context)
                ExecutionContext.Run(context, RunInContext, this);
            else
                StateMachine.MoveNext();
        }

        protected override void Return()
        {
            StateMachine = default!;
            Context = null;
            var free = t_free ??= new Stack<Box<TResult, TStateMachine>>();
            if (free.Count < MaxPerThread)
                free.Push(this);
        }
    }
}
