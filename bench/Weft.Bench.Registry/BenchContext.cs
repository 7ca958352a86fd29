namespace Weft.Bench.Registry;

/// <summary>Settings for one run; <c>--quick</c> shrinks every load so the whole run takes about a minute.</summary>
internal sealed record BenchContext(string WeftDll, string WorkDir, bool Quick)
{
    public int Repetitions => 3;

    public int Clients => 64;

    public int Registrations => Quick ? 3_000 : 20_000;

    public TimeSpan RegistrationCap => TimeSpan.FromSeconds(Quick ? 15 : 60);

    /// <summary>Per-row commits are bounded tighter: at one fsync each they are the slow reference.</summary>
    public int RawPerRowCount => Quick ? 500 : 3_000;

    public TimeSpan RawCap => TimeSpan.FromSeconds(Quick ? 3 : 10);

    public string WrkDuration => Quick ? "3s" : "10s";

    public int Watchers => 1_000;

    public int WakeRounds => Quick ? 3 : 10;

    public int CheckedInstances => Quick ? 2_000 : 10_000;

    public TimeSpan CheckWindow => TimeSpan.FromSeconds(Quick ? 15 : 60);

    public static HttpClient Client(int connections, TimeSpan timeout) =>
        new(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            UseProxy = false,
        })
        { Timeout = timeout };
}
