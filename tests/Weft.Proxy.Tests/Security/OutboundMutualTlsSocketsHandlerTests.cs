namespace Weft.Proxy.Tests.Security;

/// <summary>Every <see cref="OutboundMutualTlsTests"/> case again with the own HTTP/2 client off (<c>WEFT_FAST_H2=0</c>): SocketsHttpHandler.</summary>
public sealed class OutboundMutualTlsSocketsHandlerTests : OutboundMutualTlsTests
{
    protected override bool FastH2 => false;
}
