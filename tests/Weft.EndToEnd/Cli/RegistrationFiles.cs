namespace Weft.EndToEnd.Cli;

/// <summary>Registration JSON files on disk, as an operator would write them.</summary>
internal sealed class RegistrationFiles : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("weft-cli-reg-");

    public string Write(string name, string json)
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, json);
        return path;
    }

    /// <summary>A Consul AgentServiceRegistration with two TTL checks whose initial status is given.</summary>
    public static string Instance(string service, string id, int port, string firstStatus = "passing", string secondStatus = "passing") => $$"""
        {
          "ID": "{{id}}",
          "Name": "{{service}}",
          "Tags": ["v1", "primary"],
          "Address": "10.0.0.{{port % 250 + 1}}",
          "Port": {{port}},
          "Meta": { "team": "payments" },
          "Checks": [
            { "CheckID": "{{id}}-alive", "Name": "alive", "TTL": "10m", "Status": "{{firstStatus}}" },
            { "CheckID": "{{id}}-ready", "Name": "ready", "TTL": "10m", "Status": "{{secondStatus}}" }
          ]
        }
        """;

    public void Dispose() => _dir.Delete(recursive: true);
}
