namespace Weft.Proxy.Tests.Forwarding;

/// <summary><see cref="ProtocolTests"/> with HTTP/2 served by Kestrel (<c>WEFT_FAST_H2_SERVER=0</c>), the app's h2c included.</summary>
public sealed class ProtocolKestrelServerTests : ProtocolTests
{
    protected override bool OwnServer => false;
}
