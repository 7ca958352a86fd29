using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Weft.Cli.Dev;

/// <summary>The flapping service of <c>weft dev</c>: answers on loopback, and its /health is up, then down, in turns.</summary>
internal static class FlappingService
{
    public static Task<LoopbackApp> StartAsync(TimeSpan up, TimeSpan down, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        var started = time.GetTimestamp();
        return LoopbackApp.StartAsync(app =>
        {
            app.MapGet("/", () => "hello from the weft demo service\n");
            app.MapGet("/health", () =>
            {
                var phase = time.GetElapsedTime(started).Ticks % (up + down).Ticks;
                return phase < up.Ticks
                    ? Results.Text("ok\n")
                    : Results.Text("failing on purpose: weft dev's demo flaps its health\n", statusCode: StatusCodes.Status503ServiceUnavailable);
            });
        });
    }
}
