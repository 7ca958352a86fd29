namespace Weft.Proxy.Tests.Security;

/// <summary>Every <see cref="OutboundMutualTlsTests"/> case again, with the client sidecar's hop on Weft's own HTTP/2 client.</summary>
public sealed class OutboundMutualTlsOwnH2Tests : OutboundMutualTlsTests
{
    protected override bool FastH2 => true;
}
