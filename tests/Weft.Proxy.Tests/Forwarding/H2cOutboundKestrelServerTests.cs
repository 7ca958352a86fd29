namespace Weft.Proxy.Tests.Forwarding;

/// <summary><see cref="H2cOutboundTests"/> with the app's h2c served by Kestrel (<c>WEFT_FAST_H2_SERVER=0</c>).</summary>
public sealed class H2cOutboundKestrelServerTests : H2cOutboundTests
{
    protected override bool OwnServer => false;
}
