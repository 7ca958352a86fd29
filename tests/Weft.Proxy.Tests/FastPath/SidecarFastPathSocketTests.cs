namespace Weft.Proxy.Tests.FastPath;

/// <summary>
/// Every <see cref="SidecarFastPathTests"/> case again with both sidecars' epoll engine off (<c>WEFT_FAST_ENGINE=0</c>):
/// Kestrel's socket transport and .NET sockets, the path the engine replaced by default.
/// </summary>
public sealed class SidecarFastPathSocketTests : SidecarFastPathTests
{
    protected override bool FastEngine => false;
}
