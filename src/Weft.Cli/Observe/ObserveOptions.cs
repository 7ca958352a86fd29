using System.CommandLine;
using Weft.Core.Text;

namespace Weft.Cli.Observe;

/// <summary>Options shared by <c>top</c> and <c>stat</c>; malformed values are parse errors (exit 2).</summary>
internal static class ObserveOptions
{
    // The server keeps 10 minutes of 5-second slots; a longer window could only repeat the same data.
    public static readonly TimeSpan MaxWindow = TimeSpan.FromMinutes(10);
    public static readonly TimeSpan MinWindow = TimeSpan.FromSeconds(5);

    public static Option<TimeSpan> Window(TimeSpan defaultValue) => Duration(
        "--window", $"Time window the figures are averaged over, {MinWindow.TotalSeconds:0}s to {MaxWindow.TotalMinutes:0}m (e.g. 60s, 5m)",
        defaultValue, MinWindow, MaxWindow);

    public static Option<TimeSpan> Duration(string name, string description, TimeSpan defaultValue, TimeSpan min, TimeSpan max)
    {
        var option = new Option<TimeSpan>(name)
        {
            // No DefaultValueFactory: help would print it as 00:00:02; Value() supplies it instead.
            Description = $"{description} [default: {Format(defaultValue)}]",
            CustomParser = result =>
            {
                var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
                if (!GoDuration.TryParse(text, out var value, out var error))
                {
                    result.AddError($"{name}: \"{text}\" is not a duration: {error}");
                    return default;
                }
                if (value < min || value > max)
                {
                    result.AddError($"{name}: {text} is outside {Format(min)}..{Format(max)}");
                    return default;
                }
                return value;
            },
        };
        return option;
    }

    /// <summary>The option's value, or its default when it was not given.</summary>
    public static TimeSpan Value(this ParseResult parse, Option<TimeSpan> option, TimeSpan defaultValue) =>
        // Zero is below every minimum, so it only ever means "not given".
        parse.GetValue(option) is var value && value > TimeSpan.Zero ? value : defaultValue;

    private static string Format(TimeSpan value) =>
        value.TotalSeconds < 60 ? $"{value.TotalSeconds:0.##}s" : $"{value.TotalMinutes:0.##}m";
}
