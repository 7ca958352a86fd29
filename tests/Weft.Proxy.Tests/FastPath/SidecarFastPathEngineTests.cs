namespace Weft.Proxy.Tests.FastPath;

/// <summary>Every <see cref="SidecarFastPathTests"/> case again, with both sidecars' fast paths on the epoll engine (client connections and upstream sockets).</summary>
public sealed class SidecarFastPathEngineTests : SidecarFastPathTests
{
    protected override bool FastEngine => true;
}
