using Microsoft.Extensions.Logging;

namespace Weft.Cli.Commands;

/// <summary><c>--log-level</c> of the long-running commands; also compiled into the sidecar-only build (src/Weft.ProxyHost).</summary>
internal static class LogLevels
{
    public static bool TryParse(string text, out LogLevel level)
    {
        level = text.ToLowerInvariant() switch
        {
            "trace" => LogLevel.Trace,
            "debug" => LogLevel.Debug,
            "info" or "information" => LogLevel.Information,
            "warn" or "warning" => LogLevel.Warning,
            "error" => LogLevel.Error,
            _ => LogLevel.None,
        };
        return level != LogLevel.None;
    }
}
