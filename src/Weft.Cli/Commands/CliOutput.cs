using System.CommandLine;
using Spectre.Console;

namespace Weft.Cli.Commands;

/// <summary>
/// Where a command writes: results to <see cref="Out"/>, errors to <see cref="Error"/>. Both
/// come from the invocation configuration, so tests capture them by passing their own writers.
/// </summary>
internal sealed class CliOutput
{
    // Wide enough that a redirected table is not wrapped into something grep cannot read.
    private const int RedirectedWidth = 240;

    private CliOutput(TextWriter output, TextWriter error)
    {
        Out = output;
        Error = error;
        IsTerminal = ReferenceEquals(output, System.Console.Out) && !System.Console.IsOutputRedirected;
        Console = CreateConsole(output, IsTerminal);
    }

    public TextWriter Out { get; }
    public TextWriter Error { get; }

    /// <summary>True only for a real terminal; pipes, files and captured writers get plain text.</summary>
    public bool IsTerminal { get; }

    public IAnsiConsole Console { get; }

    public static CliOutput From(ParseResult parse) =>
        new(parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);

    public void Fail(string message) => Error.WriteLine($"weft: {message}");

    private static IAnsiConsole CreateConsole(TextWriter output, bool isTerminal)
    {
        var colors = isTerminal && Environment.GetEnvironmentVariable("NO_COLOR") is null;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = colors ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = colors ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!isTerminal)
            console.Profile.Width = RedirectedWidth;
        return console;
    }
}
