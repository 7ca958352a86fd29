using OpenTelemetry.Exporter;
using Weft.Proxy.Observability;

namespace Weft.Proxy.Tests.Observability;

public sealed class OtlpProtocolsTests
{
    [Theory]
    [InlineData(null, null, OtlpExportProtocol.HttpProtobuf)]
    [InlineData(null, "", OtlpExportProtocol.HttpProtobuf)]
    [InlineData(null, "grpc", OtlpExportProtocol.Grpc)]
    [InlineData("http/protobuf", "grpc", OtlpExportProtocol.HttpProtobuf)]
    [InlineData("grpc", null, OtlpExportProtocol.Grpc)]
    public void Parse_FlagWinsOverTheEnvironment_DefaultIsHttpProtobuf(string? flag, string? environment, OtlpExportProtocol expected)
    {
        Assert.Equal(expected, OtlpProtocols.Parse(flag, environment, out var error));
        Assert.Null(error);
    }

    [Theory]
    [InlineData("http/json", null, "--otlp-protocol: \"http/json\" is not one of http/protobuf, grpc")]
    [InlineData("", "grpc", "--otlp-protocol: \"\" is not one of http/protobuf, grpc")]
    [InlineData(null, "GRPC", "OTEL_EXPORTER_OTLP_PROTOCOL: \"GRPC\" is not one of http/protobuf, grpc")]
    public void Parse_AnythingElse_SaysWhichSettingAndWhat(string? flag, string? environment, string message)
    {
        OtlpProtocols.Parse(flag, environment, out var error);

        Assert.Equal(message, error);
    }
}
