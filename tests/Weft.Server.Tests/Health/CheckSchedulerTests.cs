using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using Weft.Server.Tests.Infrastructure;

namespace Weft.Server.Tests.Health;

/// <summary>The server running checks on a <see cref="FakeTimeProvider"/>: time moves only when the test says.</summary>
public sealed class CheckSchedulerTests
{
    private static FakeTimeProvider NewClock() => new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <summary>Waits until every write queued so far is applied (the writer is first in, first out).</summary>
    private static Task BarrierAsync(RunningServer server) =>
        server.PutOkAsync("/v1/agent/service/register", $$"""{"ID":"barrier","Name":"barrier","Meta":{"n":"{{Guid.NewGuid():N}}"} }""");

    [Fact]
    public async Task TtlCheck_NotRefreshedWithinTtl_GoesCritical()
    {
        var clock = NewClock();
        await using var server = await RunningServer.StartAsync(time: clock);
        await server.PutOkAsync("/v1/agent/service/register", """{"Name":"job","Check":{"TTL":"10s","Status":"passing"} }""");

        clock.Advance(TimeSpan.FromSeconds(9));
        await server.PutOkAsync("/v1/agent/check/pass/service:job", "");
        clock.Advance(TimeSpan.FromSeconds(9));
        await BarrierAsync(server);
        Assert.Equal("passing", await server.CheckStatusAsync("service:job"));

        clock.Advance(TimeSpan.FromSeconds(2));
        await RunningServer.WaitUntilAsync(async () => await server.CheckStatusAsync("service:job") == "critical", "the TTL check expires");
        var check = (await server.GetJsonAsync("/v1/agent/checks")).GetProperty("service:job");
        Assert.StartsWith("TTL expired", check.GetProperty("Output").GetString());
    }

    [Fact]
    public async Task HttpCheck_FollowsTheAppsHealth_AndKeepsItsOutput()
    {
        var clock = NewClock();
        await using var app = await ToggleApp.StartAsync();
        await using var server = await RunningServer.StartAsync(time: clock);
        await server.PutOkAsync("/v1/agent/service/register", $$"""{"Name":"web","Check":{"HTTP":"{{app.HealthUrl}}","Interval":"10s"} }""");
        Assert.Equal("critical", await server.CheckStatusAsync("service:web"));

        clock.Advance(TimeSpan.FromSeconds(10));
        await RunningServer.WaitUntilAsync(async () => await server.CheckStatusAsync("service:web") == "passing", "the HTTP check passes");
        var output = (await server.GetJsonAsync("/v1/agent/checks")).GetProperty("service:web").GetProperty("Output").GetString();
        Assert.Contains("200", output);
        Assert.Contains("status 200", output);

        app.Status = 503;
        clock.Advance(TimeSpan.FromSeconds(10));
        await RunningServer.WaitUntilAsync(async () => await server.CheckStatusAsync("service:web") == "critical", "the HTTP check fails");

        app.Status = 429;
        clock.Advance(TimeSpan.FromSeconds(10));
        await RunningServer.WaitUntilAsync(async () => await server.CheckStatusAsync("service:web") == "warning", "429 gives warning");
        Assert.Equal(0, (await server.GetJsonAsync("/v1/health/service/web?passing")).GetArrayLength());
    }

    [Fact]
    public async Task FailuresBeforeCritical_WithholdsASingleFailure()
    {
        var clock = NewClock();
        await using var app = await ToggleApp.StartAsync();
        await using var server = await RunningServer.StartAsync(time: clock);
        await server.PutOkAsync("/v1/agent/service/register",
            $$"""{"Name":"web","Check":{"HTTP":"{{app.HealthUrl}}","Interval":"10s","Status":"passing","FailuresBeforeCritical":2} }""");

        app.Status = 500;
        var probes = server.Server.Checks.ProbesRun;
        clock.Advance(TimeSpan.FromSeconds(10));
        await RunningServer.WaitUntilAsync(() => Task.FromResult(server.Server.Checks.ProbesRun > probes), "the first probe runs");
        await BarrierAsync(server);
        Assert.Equal("passing", await server.CheckStatusAsync("service:web"));

        clock.Advance(TimeSpan.FromSeconds(10));
        await RunningServer.WaitUntilAsync(async () => await server.CheckStatusAsync("service:web") == "critical", "the second failure is reported");
    }

    [Fact]
    public async Task CriticalLongerThanDeregisterAfter_RemovesTheService()
    {
        var clock = NewClock();
        await using var server = await RunningServer.StartAsync(time: clock);
        await server.PutOkAsync("/v1/agent/service/register",
            """{"ID":"flaky-1","Name":"flaky","Check":{"TTL":"10s","Status":"passing","DeregisterCriticalServiceAfter":"1m"} }""");

        clock.Advance(TimeSpan.FromSeconds(11));
        await RunningServer.WaitUntilAsync(async () => await server.CheckStatusAsync("service:flaky-1") == "critical", "the TTL expires");

        clock.Advance(TimeSpan.FromSeconds(59));
        await BarrierAsync(server);
        Assert.True((await server.GetJsonAsync("/v1/agent/services")).TryGetProperty("flaky-1", out _));

        clock.Advance(TimeSpan.FromSeconds(2));
        await RunningServer.WaitUntilAsync(async () => !(await server.GetJsonAsync("/v1/agent/services")).TryGetProperty("flaky-1", out _),
            "the critical service is deregistered");
    }

    [Fact]
    public async Task RecoveringBeforeDeregisterAfter_KeepsTheService()
    {
        var clock = NewClock();
        await using var server = await RunningServer.StartAsync(time: clock);
        await server.PutOkAsync("/v1/agent/service/register",
            """{"ID":"s1","Name":"svc","Check":{"TTL":"1h","Status":"critical","DeregisterCriticalServiceAfter":"1m"} }""");
        clock.Advance(TimeSpan.FromSeconds(30));
        await server.PutOkAsync("/v1/agent/check/pass/service:s1", "");
        clock.Advance(TimeSpan.FromMinutes(5));
        await BarrierAsync(server);
        Assert.True((await server.GetJsonAsync("/v1/agent/services")).TryGetProperty("s1", out _));
    }

    [Fact]
    public async Task ScriptCheck_WhenEnabled_RunsAndMapsExitCodes()
    {
        var clock = NewClock();
        await using var server = await RunningServer.StartAsync(time: clock, scripts: true);
        await server.PutOkAsync("/v1/agent/service/register",
            """{"Name":"batch","Check":{"Args":["/bin/sh","-c","echo disk at 91%; exit 1"],"Interval":"30s","Timeout":"5s"} }""");
        clock.Advance(TimeSpan.FromSeconds(30));
        await RunningServer.WaitUntilAsync(async () => await server.CheckStatusAsync("service:batch") == "warning", "exit 1 reads as warning");
        var output = (await server.GetJsonAsync("/v1/agent/checks")).GetProperty("service:batch").GetProperty("Output").GetString();
        Assert.Contains("disk at 91%", output);
    }

    [Fact]
    public async Task AThousandHttpChecks_RunWithoutAThreadEach()
    {
        var clock = NewClock();
        await using var app = await ToggleApp.StartAsync();
        await using var server = await RunningServer.StartAsync(time: clock);
        const int count = 1000;
        for (var batch = 0; batch < count; batch += 100)
        {
            await Task.WhenAll(Enumerable.Range(batch, 100).Select(i => server.PutOkAsync("/v1/agent/service/register",
                $$"""{"ID":"w{{i}}","Name":"wide","Check":{"HTTP":"{{app.HealthUrl}}","Interval":"10s","Timeout":"5s"} }""")));
        }

        Assert.Equal(count, server.Server.Checks.Scheduled);
        var threadsBefore = Process.GetCurrentProcess().Threads.Count;
        clock.Advance(TimeSpan.FromSeconds(10));
        await RunningServer.WaitUntilAsync(
            async () => (await server.GetJsonAsync("/v1/health/service/wide?passing")).GetArrayLength() == count,
            "all thousand checks pass", TimeSpan.FromSeconds(60));

        var threadsAfter = Process.GetCurrentProcess().Threads.Count;
        Assert.True(threadsAfter - threadsBefore < 100, $"threads went from {threadsBefore} to {threadsAfter}");
        Assert.True(app.Hits >= count);
    }

    [Fact]
    public async Task CheckReRegisteredWithNewDefinitions_LeavesNoTrailInTheSchedule()
    {
        var clock = NewClock();
        await using var app = await ToggleApp.StartAsync();
        await using var server = await RunningServer.StartAsync(time: clock);
        for (var i = 0; i < 1_500; i++)
        {
            await server.PutOkAsync("/v1/agent/service/register",
                $$"""{"ID":"churn","Name":"churn","Check":{"HTTP":"{{app.HealthUrl}}","Interval":"{{3600 + i}}s"} }""");
        }

        Assert.Equal(1, server.Server.Checks.Scheduled);
        Assert.InRange(server.Server.Checks.ScheduleEntries, 1, 1 + 1024 + 1);
    }
}
