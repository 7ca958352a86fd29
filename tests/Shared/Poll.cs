namespace Weft.Tests.Shared;

/// <summary>Waiting on a condition the test cannot be told about, with a deadline instead of a guess.</summary>
internal static class Poll
{
    /// <summary>Checks <paramref name="condition"/> every 10 ms until it holds; fails after <paramref name="timeout"/> (10 s by default).</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(10);
        }
    }
}
