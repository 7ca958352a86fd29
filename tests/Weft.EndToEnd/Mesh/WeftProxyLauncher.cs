using System.Diagnostics;

namespace Weft.EndToEnd.Mesh;

/// <summary>
/// How the tests start a <c>weft proxy</c> process: <c>dotnet weft.dll proxy ...</c> from this build, or, when
/// <c>WEFT_PROXY_EXE</c> names a native executable (the Native AOT sidecar build, see README "Native AOT sidecar"),
/// <c>$WEFT_PROXY_EXE proxy ...</c>, so the same tests check that build.
/// </summary>
internal static class WeftProxyLauncher
{
    public const string Variable = "WEFT_PROXY_EXE";

    public static ProcessStartInfo StartInfo(IEnumerable<string> proxyArgs)
    {
        var exe = Environment.GetEnvironmentVariable(Variable);
        var start = new ProcessStartInfo(string.IsNullOrEmpty(exe) ? "dotnet" : exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (string.IsNullOrEmpty(exe)) start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "weft.dll"));
        start.ArgumentList.Add("proxy");
        foreach (var arg in proxyArgs) start.ArgumentList.Add(arg);
        start.Environment.Remove(Variable);
        return start;
    }
}
