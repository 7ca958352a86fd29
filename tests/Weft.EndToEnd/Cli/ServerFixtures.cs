namespace Weft.EndToEnd.Cli;

/// <summary>One open (<c>--dev-open</c>) server shared by a test class; tests use distinct service names.</summary>
public sealed class OpenServerFixture : IAsyncLifetime
{
    private WeftServerProcess? _server;

    internal WeftServerProcess Server => _server ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _server = await WeftServerProcess.StartAsync(open: true);

    public async Task DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
    }
}

/// <summary>One server in its default, token-protected mode.</summary>
public sealed class TokenServerFixture : IAsyncLifetime
{
    private WeftServerProcess? _server;

    internal WeftServerProcess Server => _server ?? throw new InvalidOperationException("not started");

    /// <summary>The token the server created for itself in its data directory.</summary>
    public string Token { get; private set; } = "";

    public async Task InitializeAsync()
    {
        _server = await WeftServerProcess.StartAsync(open: false);
        Token = (await File.ReadAllTextAsync(Path.Combine(_server.DataDir, "acl-token"))).Trim();
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
    }
}
