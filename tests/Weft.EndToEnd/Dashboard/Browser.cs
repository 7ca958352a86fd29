using Microsoft.Playwright;

namespace Weft.EndToEnd.Dashboard;

/// <summary>
/// Debian's headless Chromium driven by Playwright: the browser is the system's (<c>/usr/bin/chromium</c>), so
/// Playwright downloads nothing; its Node driver ships inside the NuGet package.
/// </summary>
internal sealed class Browser : IAsyncDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright _playwright = null!;

    public IBrowser Chromium { get; private set; } = null!;

    /// <summary>Where screenshots go: test output under the test's bin dir, never committed.</summary>
    public static string ScreenshotDir { get; } = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots")).FullName;

    public static async Task<Browser> LaunchAsync()
    {
        var browser = new Browser { _playwright = await Playwright.CreateAsync() };
        browser.Chromium = await browser._playwright.Chromium.LaunchAsync(new() { ExecutablePath = ChromiumPath, Headless = true });
        return browser;
    }

    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new() { Path = Path.Combine(ScreenshotDir, name + ".png"), FullPage = true });

    public async ValueTask DisposeAsync()
    {
        await Chromium.DisposeAsync();
        _playwright.Dispose();
    }
}
