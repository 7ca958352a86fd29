using Microsoft.Extensions.Time.Testing;
using Weft.Core.Catalog;
using Weft.Core.Health;

namespace Weft.Core.Tests.Health;

public sealed class HealthProbeFactoryTests
{
    [Theory]
    [InlineData(CheckTypes.Http, typeof(HttpProbe))]
    [InlineData(CheckTypes.Tcp, typeof(TcpProbe))]
    [InlineData(CheckTypes.Grpc, typeof(GrpcProbe))]
    [InlineData(CheckTypes.Script, typeof(ScriptProbe))]
    public async Task Create_KnownType_ReturnsItsProbe(string type, Type expected)
    {
        await using var factory = new HealthProbeFactory(new FakeTimeProvider());

        Assert.IsType(expected, factory.Create(new CheckDefinition { Type = type }));
    }

    [Theory]
    [InlineData(CheckTypes.Ttl)]
    [InlineData("docker")]
    [InlineData("")]
    public async Task Create_TtlOrUnknownType_Throws(string type)
    {
        await using var factory = new HealthProbeFactory(new FakeTimeProvider());

        Assert.Throws<ArgumentException>(() => factory.Create(new CheckDefinition { Type = type }));
    }
}
