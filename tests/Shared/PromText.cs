using System.Diagnostics;
using System.Globalization;

namespace Weft.Tests.Shared;

/// <summary>Reads Prometheus text as a scraper would, and lints it with Debian's <c>promtool check metrics</c>.</summary>
internal static class PromText
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    /// <summary>Runs <c>promtool check metrics</c> on <paramref name="text"/> and fails with its complaints, if any.</summary>
    public static async Task AssertPromtoolAcceptsAsync(string text)
    {
        var start = new ProcessStartInfo("promtool", ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("promtool did not start");
        await process.StandardInput.WriteAsync(text);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        var output = (await stdout + await stderr).Trim();
        Assert.True(process.ExitCode == 0 && output.Length == 0, $"promtool check metrics: exit {process.ExitCode}: {output}");
    }

    public static List<Sample> Parse(string text)
    {
        var samples = new List<Sample>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
                continue;
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            string name;
            string rest;
            var brace = line.IndexOf('{');
            var space = line.IndexOf(' ');
            if (brace >= 0 && brace < space)
            {
                name = line[..brace];
                var i = brace + 1;
                while (line[i] != '}')
                {
                    var eq = line.IndexOf('=', i);
                    var key = line[i..eq];
                    var value = new System.Text.StringBuilder();
                    var j = eq + 2;
                    for (; line[j] != '"'; j++)
                    {
                        if (line[j] == '\\')
                        {
                            j++;
                            value.Append(line[j] == 'n' ? '\n' : line[j]);
                        }
                        else
                        {
                            value.Append(line[j]);
                        }
                    }

                    labels[key] = value.ToString();
                    i = j + 1;
                    if (line[i] == ',')
                        i++;
                }

                rest = line[(line.IndexOf('}', i) + 1)..].Trim();
            }
            else
            {
                name = line[..space];
                rest = line[space..].Trim();
            }

            var number = rest.Split(' ')[0];
            samples.Add(new Sample(name, labels, number switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                _ => double.Parse(number, CultureInfo.InvariantCulture),
            }));
        }

        return samples;
    }

    /// <summary>The samples named <paramref name="name"/> whose labels include all of <paramref name="labels"/>.</summary>
    public static List<Sample> Find(this List<Sample> samples, string name, params (string Name, string Value)[] labels) =>
        samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Name, out var v) && v == l.Value)).ToList();

    /// <summary>The single sample that matches; fails when there is none or more than one.</summary>
    public static double Value(this List<Sample> samples, string name, params (string Name, string Value)[] labels)
    {
        var found = samples.Find(name, labels);
        Assert.True(found.Count == 1, $"expected one {name} with {string.Join(",", labels.Select(l => $"{l.Name}={l.Value}"))}, found {found.Count}");
        return found[0].Value;
    }
}
