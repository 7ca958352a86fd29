using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Weft.Cli.Api;

namespace Weft.Cli.Commands;

/// <summary><c>weft services</c>: every registered service with its instance health.</summary>
internal static class ServicesCommand
{
    // The catalog lists names only, so health is one request per service; bounded so a large
    // catalog does not open hundreds of connections to the server at once.
    private const int ParallelRequests = 8;

    public static Command Create()
    {
        var command = new Command("services", "List registered services with instance counts and health");
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table" };
        command.Options.Add(json);
        var api = ApiOptions.AddTo(command);

        command.SetAction((parse, ct) => CommandRunner.RunAsync(parse, api, async (client, output) =>
        {
            var summaries = await SummarizeAsync(client, ct);
            if (parse.GetValue(json))
                output.Out.WriteLine(JsonSerializer.Serialize(summaries, CliJsonContext.Default.ListServiceSummary));
            else
                output.Console.Write(Tables.Services(summaries, output.IsTerminal));
            return ExitCodes.Success;
        }));
        return command;
    }

    private static async Task<List<ServiceSummary>> SummarizeAsync(WeftApiClient client, CancellationToken ct)
    {
        var services = await client.GetServicesAsync(ct);
        var summaries = new ServiceSummary[services.Count];
        var names = services.Keys.Order(StringComparer.Ordinal).ToArray();
        await Parallel.ForAsync(0, names.Length, new ParallelOptions { MaxDegreeOfParallelism = ParallelRequests, CancellationToken = ct },
            async (i, token) =>
            {
                var instances = (await client.GetServiceHealthAsync(names[i], token)).Select(CliViews.ToInstance).ToList();
                summaries[i] = CliViews.Summarize(names[i], services[names[i]] ?? [], instances);
            });
        return [.. summaries];
    }
}
