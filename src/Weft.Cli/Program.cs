using Weft.Cli.Commands;

// The control plane's thread-pool workers wait for work without spinning first. Its work comes in small bursts (a
// thousand health probes a second, each a few microseconds of managed work between socket waits), and a worker that
// spins before it sleeps turns each gap into sched_yield calls: with 10,000 HTTP checks at 10 s, spinning was a third
// of the server's CPU (bench/registry; figures in the README's Benchmarks section). Set before anything runs on the
// pool, which reads it once.
// The sidecar's hot path runs on its own epoll thread, so `weft proxy` keeps the runtime's default.
if (args is ["server", ..] or ["dev", ..])
    AppContext.SetData("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit", 0);

return await CliRunner.RunAsync(args);
