using Microsoft.Extensions.Time.Testing;
using Weft.Proxy.Resilience;

namespace Weft.Proxy.Tests.Resilience;

public sealed class RetryBudgetTests
{
    [Fact]
    public void TryRetry_AllowsTwentyPercentPlusTenPerSecond_ThenRefuses_AndRecoversAfterTheWindow()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(1));
        var budget = new RetryBudget(time);
        for (var i = 0; i < 1000; i++)
            budget.RecordRequest();

        var allowed = 0;
        while (budget.TryRetry() && allowed < 10_000)
            allowed++;

        // 20% of 1000 requests, plus 10 per second over the 10-second window.
        Assert.Equal(200 + 100, allowed);
        Assert.Equal(1, budget.Exhausted);

        time.Advance(TimeSpan.FromSeconds(RetryBudget.WindowSeconds));
        Assert.True(budget.TryRetry());
    }

    [Fact]
    public void Backoff_IsJitteredBelowEnvoysCap()
    {
        for (var retry = 1; retry < 10; retry++)
        {
            var delay = Backoff.Delay(retry);
            Assert.InRange(delay, TimeSpan.Zero, Backoff.Max);
            Assert.True(delay.TotalMilliseconds <= 25 * ((1 << retry) - 1));
        }
    }
}
