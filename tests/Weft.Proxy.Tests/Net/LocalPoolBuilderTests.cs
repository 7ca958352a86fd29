using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Weft.Proxy.Net;

namespace Weft.Proxy.Tests.Net;

/// <summary>
/// <see cref="LocalPoolBuilder"/>: what the compiler's async methods need of a builder (results, exceptions, the
/// execution context) and what it is for: many calls in flight at once on one thread reuse their boxes, where the
/// runtime's pooling builder keeps one per thread and one per core.
/// </summary>
public sealed class LocalPoolBuilderTests
{
    /// <summary>An awaitable the test completes by hand, reusable, so that the test itself allocates nothing per wait.</summary>
    private sealed class Gate : IValueTaskSource<int>
    {
        private ManualResetValueTaskSourceCore<int> _core;

        public ValueTask<int> WaitAsync() => new(this, _core.Version);

        public void Open(int value) => _core.SetResult(value);

        public void Fail(Exception e) => _core.SetException(e);

        public int GetResult(short token)
        {
            var result = _core.GetResult(token);
            _core.Reset();
            return result;
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }

    private static readonly AsyncLocal<string?> Flowing = new();

    [AsyncMethodBuilder(typeof(LocalPoolBuilder<>))]
    private static async ValueTask<int> AddLocalAsync(Gate gate, int add) => await gate.WaitAsync() + add;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<int> AddRuntimeAsync(Gate gate, int add) => await gate.WaitAsync() + add;

    [AsyncMethodBuilder(typeof(LocalPoolBuilder))]
    private static async ValueTask ThrowAfterAsync(Gate? gate, string message)
    {
        if (gate is not null)
            await gate.WaitAsync();
        throw new InvalidOperationException(message);
    }

    [AsyncMethodBuilder(typeof(LocalPoolBuilder<>))]
    private static async ValueTask<int> SyncAsync(int value)
    {
        await Task.CompletedTask;
        return value * 2;
    }

    [AsyncMethodBuilder(typeof(LocalPoolBuilder<>))]
    private static async ValueTask<string?> SeeLocalAsync(Gate gate, string set)
    {
        var before = Flowing.Value;
        Flowing.Value = set;
        await gate.WaitAsync();
        return before + "/" + Flowing.Value;
    }

    [Fact]
    public async Task ResultsComeBack_CompletedAtOnceOrLater()
    {
        Assert.Equal(42, await SyncAsync(21));

        var gates = Enumerable.Range(0, 300).Select(_ => new Gate()).ToArray();
        var calls = gates.Select((g, i) => AddLocalAsync(g, i)).ToArray();
        Assert.All(calls, c => Assert.False(c.IsCompleted));
        for (var i = gates.Length - 1; i >= 0; i--)
            gates[i].Open(1000);

        for (var i = 0; i < calls.Length; i++)
            Assert.Equal(1000 + i, await calls[i]);
    }

    [Fact]
    public async Task Exceptions_ReachTheAwaiter_BeforeOrAfterTheFirstAwait()
    {
        var early = await Assert.ThrowsAsync<InvalidOperationException>(async () => await ThrowAfterAsync(null, "at once"));
        Assert.Equal("at once", early.Message);

        var gate = new Gate();
        var call = ThrowAfterAsync(gate, "later");
        gate.Open(0);
        Assert.Equal("later", (await Assert.ThrowsAsync<InvalidOperationException>(async () => await call)).Message);

        var failing = new Gate();
        var add = AddLocalAsync(failing, 1);
        failing.Fail(new TimeoutException("gate failed"));
        Assert.Equal("gate failed", (await Assert.ThrowsAsync<TimeoutException>(async () => await add)).Message);
    }

    [Fact]
    public async Task TheExecutionContext_FlowsIntoTheContinuation_AndTheCallersStaysItsOwn()
    {
        Flowing.Value = "caller";
        var gate = new Gate();
        var call = SeeLocalAsync(gate, "callee");
        Assert.Equal("caller", Flowing.Value);

        // Completed from a thread whose context has another value: the continuation still sees the callee's.
        await Task.Run(() =>
        {
            Flowing.Value = "other thread";
            gate.Open(0);
        });

        Assert.Equal("caller/callee", await call);
        Assert.Equal("caller", Flowing.Value);
    }

    [Fact]
    public void ManyCallsInFlightOnOneThread_ReuseTheirBoxes_WhereTheRuntimesPoolAllocatesThem()
    {
        // As on the engine's thread: no synchronization context, so the gates run their continuations inline (the test
        // framework's would take them elsewhere, allocating).
        var framework = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            Measure();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(framework);
        }
    }

    private void Measure()
    {
        const int inFlight = 200;
        var gates = Enumerable.Range(0, inFlight).Select(_ => new Gate()).ToArray();
        var calls = new ValueTask<int>[inFlight];

        long Round(Func<Gate, int, ValueTask<int>> call)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < inFlight; i++)
                calls[i] = call(gates[i], i);
            for (var i = 0; i < inFlight; i++)
                gates[i].Open(1);
            var sum = 0;
            for (var i = 0; i < inFlight; i++)
                sum += calls[i].Result;
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(inFlight + inFlight * (inFlight - 1) / 2, sum);
            return allocated;
        }

        // The first rounds fill the pools (and JIT); the third is measured.
        for (var warm = 0; warm < 2; warm++)
        {
            Round(AddLocalAsync);
            Round(AddRuntimeAsync);
        }

        var local = Round(AddLocalAsync);
        var runtime = Round(AddRuntimeAsync);

        // What both allocate alike (in a Debug build the compiler makes each state machine a class, one per call) cancels
        // out; what is left is the runtime's box per call beyond its cached few, which the local pool does not allocate.
        Assert.True(runtime - local >= inFlight * 48, $"local pool {local} bytes, runtime's pool {runtime} bytes for {inFlight} calls in flight");
    }
}
