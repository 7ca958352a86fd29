namespace Weft.Proxy.Tests.FastPath;

/// <summary>Every <see cref="FastPathTests"/> case again with the proxy on the epoll engine (its listeners' connections and upstream sockets).</summary>
public sealed class FastPathEngineTests : FastPathTests
{
    protected override bool FastEngine => true;
}
