namespace Weft.Proxy.Tests.Forwarding;

/// <summary><see cref="GrpcOutboundTests"/> with the app's h2c served by Kestrel (<c>WEFT_FAST_H2_SERVER=0</c>).</summary>
public sealed class GrpcOutboundKestrelServerTests : GrpcOutboundTests
{
    protected override bool OwnServer => false;
}
