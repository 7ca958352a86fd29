using OpenTelemetry.Exporter;

namespace Weft.Proxy.Observability;

/// <summary>The OTLP transports the sidecar exports spans over, by the names OpenTelemetry's environment variable uses.</summary>
internal static class OtlpProtocols
{
    public const string EnvironmentVariable = "OTEL_EXPORTER_OTLP_PROTOCOL";
    public const string HttpProtobuf = "http/protobuf";
    public const string Grpc = "grpc";

    /// <summary>
    /// The flag's value, else the environment's, else http/protobuf; <paramref name="error"/> names whichever was not
    /// one of the two (http/json is OTLP's third, which OpenTelemetry .NET's exporter does not offer).
    /// </summary>
    public static OtlpExportProtocol Parse(string? flag, string? environment, out string? error)
    {
        error = null;
        var (source, value) = flag is not null ? ("--otlp-protocol", flag) : (EnvironmentVariable, environment);
        switch (value)
        {
            case null or "" when flag is null:
            case HttpProtobuf:
                return OtlpExportProtocol.HttpProtobuf;
            case Grpc:
                return OtlpExportProtocol.Grpc;
            default:
                error = $"{source}: \"{value}\" is not one of {HttpProtobuf}, {Grpc}";
                return OtlpExportProtocol.HttpProtobuf;
        }
    }
}
