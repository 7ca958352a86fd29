namespace Weft.Proxy.Tests.FastPath;

/// <summary>
/// Every <see cref="FastPathTests"/> case again with the epoll engine off (<c>WEFT_FAST_ENGINE=0</c>): Kestrel's socket
/// transport and .NET sockets with inline completions, so the path the engine replaced by default stays tested.
/// </summary>
public sealed class FastPathSocketTests : FastPathTests
{
    protected override bool FastEngine => false;
}
