using Weft.Proxy.Net;

namespace Weft.Proxy.Tests.Net;

/// <summary>The sidecar caps glibc's malloc arenas at start, unless the operator set MALLOC_ARENA_MAX.</summary>
public sealed class MallocArenasTests
{
    [Fact]
    public void OnGlibc_TheCapIsSet()
    {
        // The sidecar's platform (Debian): Linux with glibc.
        Assert.True(OperatingSystem.IsLinux());
        Assert.Null(Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX"));

        // mallopt answers 1 only when glibc took the setting.
        Assert.Equal(MallocArenas.Default, MallocArenas.Limit());
    }

    [Fact]
    public void TheOperatorsMallocArenaMax_Wins()
    {
        Environment.SetEnvironmentVariable("MALLOC_ARENA_MAX", "4");
        try
        {
            Assert.Equal(4, MallocArenas.Limit());
        }
        finally
        {
            Environment.SetEnvironmentVariable("MALLOC_ARENA_MAX", null);
        }
    }
}
