using System.Reflection;

namespace Weft.Server;

internal static class WeftVersion
{
    public static readonly string Current =
        typeof(WeftVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
}
