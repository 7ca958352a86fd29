namespace Weft.Proxy.Tests.FastPath;

/// <summary>
/// Every <see cref="SidecarFastPathTests"/> case again with the own HTTP/2 client off (<c>WEFT_FAST_H2=0</c>): the client
/// sidecar's hop goes through SocketsHttpHandler to the server sidecar's Kestrel.
/// </summary>
public sealed class SidecarFastPathSocketsHandlerTests : SidecarFastPathTests
{
    protected override bool FastH2 => false;
}
