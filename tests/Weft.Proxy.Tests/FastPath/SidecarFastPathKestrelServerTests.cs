namespace Weft.Proxy.Tests.FastPath;

/// <summary>
/// Every <see cref="SidecarFastPathTests"/> case with the own HTTP/2 client (the default) and the server sidecar's own
/// server off (<c>WEFT_FAST_H2_SERVER=0</c>): Kestrel still serves our client's marked connections.
/// </summary>
public sealed class SidecarFastPathKestrelServerTests : SidecarFastPathTests
{
    protected override bool FastH2Server => false;
}
