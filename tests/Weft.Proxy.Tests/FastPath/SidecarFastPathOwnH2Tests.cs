namespace Weft.Proxy.Tests.FastPath;

/// <summary>Every <see cref="SidecarFastPathTests"/> case again, with the client sidecar's hop on Weft's own HTTP/2 client.</summary>
public sealed class SidecarFastPathOwnH2Tests : SidecarFastPathTests
{
    protected override bool FastH2 => true;
}
