using System.Runtime.CompilerServices;

namespace Weft.Tests.Shared;

/// <summary>
/// Gives back to the code under test the thread-pool workers that the test runner itself holds. Under
/// <c>dotnet test</c> two pool threads block for the whole run: vstest's message loop (a blocking
/// <c>Socket.Poll</c> in <c>TcpClientExtensions.MessageLoopAsync</c>) and xunit's VS adapter waiting for the
/// assembly (<c>WaitHandle.WaitOne</c> in <c>VsTestRunner.RunTestsInAssembly</c>). The pool does not know they
/// are blocked, so on a two-core machine (minimum 2 workers) hill climbing's warm-up goal of 2 leaves none for the
/// test: queued work (a <c>Task.Delay</c>'s continuation, Kestrel's socket sends) then waits until starvation
/// detection adds a worker, 0.7 to 1.2 s later (seen as a 300 ms request recorded at 0.9 to 1.4 s by a sidecar's
/// histogram). A sidecar in production has no such threads; raising the minimum by exactly these two restores
/// the pool the code would have outside the runner, without hiding blocking of our own.
/// </summary>
internal static class RunnerThreadPool
{
    /// <summary>The pool threads the runner blocks for the whole run (vstest's message loop, xunit's assembly wait).</summary>
    public const int HeldByRunner = 2;

    [ModuleInitializer]
    internal static void ReserveWorkersForTheCodeUnderTest()
    {
        ThreadPool.GetMinThreads(out var workers, out var completionPorts);
        ThreadPool.SetMinThreads(workers + HeldByRunner, completionPorts);
    }
}
