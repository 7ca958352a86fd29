using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Weft.Core.Identity;
using Weft.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Weft.Server.Tests.Security;

/// <summary>
/// A bounded, seeded fuzz run against every write endpoint of a real server. Every request is invalid by
/// construction (a valid body mutated so that it can no longer be accepted, or an id that does not exist), so every
/// answer must be a 4xx with a reason, the stored state must be what it was before, and still be after a restart.
/// Rerun with another seed: <c>WEFT_FUZZ_SEED=123 dotnet test ... --filter WriteEndpointFuzzTests</c>.
/// </summary>
public sealed class WriteEndpointFuzzTests(ITestOutputHelper output)
{
    private const int DefaultSeed = 20261126;
    private const int MaxRequests = 2000;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(40);
    private const int OneMiB = 1024 * 1024;

    private static readonly string[] ConfigKinds = ["service-defaults", "service-router", "service-splitter", "service-resolver", "service-intentions"];

    private enum Kind { Str, Port, StrArray, StrMap, Obj, Duration, Bool }

    private sealed record Field(string Path, Kind Kind, bool Required = false);

    /// <summary>A write endpoint with a valid body to mutate; <paramref name="EmptyObjectRefused"/>: <c>{}</c> is a 400 there.</summary>
    private sealed record Template(string Method, string Path, string Body, Field[] Fields, bool EmptyObjectRefused = true);

    /// <summary>One fuzzed request; <paramref name="MayBeNoOp"/>: it targets something absent, so a 2xx that changes nothing is fine.</summary>
    private sealed record Probe(string What, HttpMethod Method, string PathAndQuery, byte[]? Body, string? ContentType, string? Token, bool MayBeNoOp = false);

    private static Template[] Templates(string csr) =>
    [
        new("PUT", "/v1/agent/service/register", """{"ID":"fz-svc","Name":"fz","Port":9000,"Tags":["a"],"Meta":{"k":"v"},"Check":{"TTL":"30s"}}""",
            [new("Name", Kind.Str, true), new("ID", Kind.Str), new("Port", Kind.Port), new("Tags", Kind.StrArray), new("Meta", Kind.StrMap), new("Check", Kind.Obj), new("Check.TTL", Kind.Duration)]),
        new("PUT", "/v1/agent/check/register", """{"CheckID":"fz-chk","Name":"fz","TTL":"30s","Status":"passing"}""",
            [new("Name", Kind.Str, true), new("CheckID", Kind.Str), new("TTL", Kind.Duration), new("Status", Kind.Str)]),
        new("PUT", "/v1/agent/check/update/seed-node-ttl", """{"Status":"critical","Output":"fz"}""",
            [new("Status", Kind.Str, true), new("Output", Kind.Str)]),
        new("PUT", "/v1/catalog/register", """{"Node":"fz-node","Address":"10.1.1.1","NodeMeta":{"k":"v"},"Service":{"Service":"fz","Port":9000}}""",
            [new("Node", Kind.Str, true), new("Address", Kind.Str, true), new("NodeMeta", Kind.StrMap), new("Service", Kind.Obj), new("Service.Port", Kind.Port), new("Service.Service", Kind.Str, true)]),
        new("PUT", "/v1/catalog/deregister", """{"Node":"ext"}""",
            [new("Node", Kind.Str, true)]),
        new("PUT", "/v1/config", """{"Kind":"service-defaults","Name":"fz","Protocol":"http"}""",
            [new("Kind", Kind.Str, true), new("Name", Kind.Str, true), new("Protocol", Kind.Str)]),
        new("PUT", "/v1/connect/intentions/exact?source=fz&destination=web", """{"Action":"allow","Description":"fz"}""",
            [new("Action", Kind.Str, true), new("Description", Kind.Str)]),
        new("PUT", "/v1/connect/ca/configuration", """{"Provider":"weft","Config":{"RotateRoot":true}}""",
            [new("Provider", Kind.Str), new("Config", Kind.Obj), new("Config.RotateRoot", Kind.Bool)], EmptyObjectRefused: false),
        new("PUT", "/v1/connect/ca/sign", JsonSerializer.Serialize(new { CSR = csr }),
            [new("CSR", Kind.Str, true)]),
        new("PUT", "/v1/acl/token", """{"Description":"fz","ServiceIdentities":[{"ServiceName":"fz"}]}""",
            [new("Description", Kind.Str), new("ServiceIdentities", Kind.StrArray, true)]),
    ];

    // Paths that name what they act on; the fuzzer only ever names ids that do not exist.
    private static readonly string[] IdPaths =
    [
        "/v1/agent/service/deregister/", "/v1/agent/check/deregister/", "/v1/agent/check/pass/", "/v1/agent/check/warn/",
        "/v1/agent/check/fail/", "/v1/agent/check/update/",
    ];

    private static readonly string[] OddQueries =
    [
        "", "", "", "?%ZZ=1", "?cas=abc", "?cas=-1", "?replace-existing-checks=maybe", "?dc=", "?a=%00%FF%C0%AF", "?index=-1&wait=forever",
        "?token=", "?" + new string('q', 2000) + "=1", "?ns=other&partition=x", "?note=%FF%FE",
    ];

    private static readonly string[] WrongContentTypes =
    [
        "application/json", "application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
        "application/json; charset=utf-16", "application/xml", "", "application/grpc+proto-not",
    ];

    [Fact]
    public async Task FuzzedWrites_AreRefusedWith4xx_ChangeNothing_AndTheServerSurvivesARestart()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("WEFT_FUZZ_SEED"), out var s) ? s : DefaultSeed;
        output.WriteLine($"fuzz seed {seed} (rerun with WEFT_FUZZ_SEED={seed})");
        var random = new Random(seed);
        var dataDir = Directory.CreateTempSubdirectory("weft-fuzz-").FullName;
        try
        {
            string before;
            string serviceSecret;
            var findings = new List<string>();
            var sent = 0;
            var stopwatch = Stopwatch.StartNew();
            await using (var server = await RunningServer.StartAsync(dataDir))
            {
                serviceSecret = await SeedAsync(server);
                before = await SnapshotAsync(server);

                var templates = Templates(Csr("fz"));

                using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 4 })
                {
                    BaseAddress = server.Server.HttpAddress,
                    Timeout = TimeSpan.FromSeconds(20),
                };
                var deadline = DateTime.UtcNow + Budget;
                var results = new System.Collections.Concurrent.ConcurrentBag<string>();
                var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
                var gate = new Lock();
                await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
                {
                    while (DateTime.UtcNow < deadline)
                    {
                        Probe probe;
                        // Drawn one at a time from the one seeded Random: the same seed gives the same requests.
                        lock (gate)
                        {
                            if (sent == MaxRequests) return;
                            sent++;
                            probe = Next(random, templates, serviceSecret);
                        }

                        if (await SendAsync(http, probe, statuses) is { } finding) results.Add(finding);
                    }
                }));
                findings.AddRange(results);
                stopwatch.Stop();
                output.WriteLine($"{sent} requests in {stopwatch.Elapsed.TotalSeconds:F1} s, {findings.Count} findings; answers: "
                    + string.Join(", ", statuses.OrderBy(p => p.Key).Select(p => $"{p.Key}×{p.Value}")));
                foreach (var finding in findings.Take(20)) output.WriteLine(finding);

                Assert.True(findings.Count == 0, $"seed {seed}: {findings.Count} of {sent} fuzzed writes were not refused with a 4xx and a reason:\n" + string.Join("\n", findings.Take(10)));
                Assert.True(sent >= MaxRequests / 4, $"only {sent} requests in {Budget}: the run says too little");

                using var leader = await server.Http.GetAsync("/v1/status/leader");
                Assert.Equal(HttpStatusCode.OK, leader.StatusCode);
                AssertSame(before, await SnapshotAsync(server), "after the fuzz run");
            }

            await using (var restarted = await RunningServer.StartAsync(dataDir))
                AssertSame(before, await SnapshotAsync(restarted), "after a restart on the same data dir");
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    /// <summary>Sends one probe; null when the answer is as it must be, else what was wrong.</summary>
    private static async Task<string?> SendAsync(HttpClient http, Probe probe, System.Collections.Concurrent.ConcurrentDictionary<int, int> statuses)
    {
        using var request = new HttpRequestMessage(probe.Method, probe.PathAndQuery);
        if (probe.Token is not null) request.Headers.TryAddWithoutValidation("X-Consul-Token", probe.Token);
        if (probe.Body is not null)
        {
            var content = new ByteArrayContent(probe.Body);
            if (!string.IsNullOrEmpty(probe.ContentType)) content.Headers.TryAddWithoutValidation("Content-Type", probe.ContentType);
            request.Content = content;
            // As curl does for large bodies: the server refuses before the upload instead of racing a closed socket.
            if (probe.Body.Length > 64 * 1024) request.Headers.ExpectContinue = true;
        }

        try
        {
            using var response = await http.SendAsync(request);
            var status = (int)response.StatusCode;
            statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
            var text = await response.Content.ReadAsStringAsync();
            var where = $"{probe.What}: {probe.Method} {Shorten(probe.PathAndQuery)} body {Shorten(probe.Body)} -> {status} {Shorten(text)}";
            if (status >= 500) return "5xx " + where;
            if (status is >= 200 and < 300 && !probe.MayBeNoOp) return "accepted " + where;
            // Kestrel refuses a request target holding NUL, or a request line over 8 KiB, before Weft sees it, and
            // gives no body; every request Weft itself refuses says why.
            var refusedByKestrel = status == 414 || (status == 400 && probe.PathAndQuery.Contains("%00", StringComparison.Ordinal));
            if (status >= 400 && string.IsNullOrWhiteSpace(text) && !refusedByKestrel) return "no reason " + where;
            return null;
        }
        catch (HttpRequestException e)
        {
            return $"connection failed ({e.Message}) {probe.What}: {probe.Method} {Shorten(probe.PathAndQuery)}";
        }
    }

    private static Probe Next(Random random, Template[] templates, string serviceSecret)
    {
        var roll = random.Next(100);
        var query = Pick(random, OddQueries);
        var token = roll < 4 ? $"fz-{random.Next()}" : RunningServer.Token;
        if (roll < 4) // an unknown token: refused before anything is read
        {
            var t = Pick(random, templates);
            return new Probe("unknown token", new HttpMethod(t.Method), t.Path, Encoding.UTF8.GetBytes(t.Body), "application/json", token);
        }

        if (roll < 8) // a service token on management-only writes
        {
            var t = Pick(random, templates.Where(t => t.Path is "/v1/config" or "/v1/connect/ca/configuration" or "/v1/acl/token" || t.Path.StartsWith("/v1/connect/intentions", StringComparison.Ordinal)).ToArray());
            return new Probe("service token escalates", new HttpMethod(t.Method), t.Path, Encoding.UTF8.GetBytes(t.Body), "application/json", serviceSecret);
        }

        if (roll < 22) return IdProbe(random, query, token);

        var template = Pick(random, templates);
        var path = template.Path + (template.Path.Contains('?') ? query.Replace('?', '&') : query);
        var method = random.Next(40) == 0 ? Pick(random, new[] { HttpMethod.Post, HttpMethod.Patch, new HttpMethod("PROPFIND") }) : new HttpMethod(template.Method);
        var (what, body) = MutatedBody(random, template);
        var contentType = Pick(random, WrongContentTypes);
        if (random.Next(8) == 0) // any of the invalid bodies in another encoding stays invalid
        {
            var encoding = random.Next(4);
            what += encoding switch { 0 => ", UTF-8 BOM", 1 => ", UTF-16LE BOM", 2 => ", UTF-16BE BOM", _ => ", NUL-padded" };
            body = encoding switch
            {
                0 => [0xEF, 0xBB, 0xBF, .. body],
                1 => [0xFF, 0xFE, .. Encoding.Unicode.GetBytes(Encoding.UTF8.GetString(body))],
                2 => [0xFE, 0xFF, .. Encoding.BigEndianUnicode.GetBytes(Encoding.UTF8.GetString(body))],
                _ => [0, .. body, 0],
            };
        }

        return new Probe(what, method, path, body, contentType, token);
    }

    private static Probe IdProbe(Random random, string query, string token)
    {
        var id = "fz" + RandomId(random);
        switch (random.Next(6))
        {
            case 0:
                return new Probe("config delete, unknown kind", HttpMethod.Delete, $"/v1/config/fz-kind{RandomId(random)}/web{query}", null, null, token);
            case 1:
                return new Probe("config delete, absent name", HttpMethod.Delete, $"/v1/config/{Pick(random, ConfigKinds)}/{id}{query}", null, null, token, MayBeNoOp: true);
            case 2:
                var (source, destination) = random.Next(3) switch
                {
                    0 => ("", "web"),
                    1 => ("fz/x", id),
                    _ => (id, "web"),
                };
                var absent = source.Length > 0 && !source.Contains('/');
                return new Probe("intention delete", HttpMethod.Delete, $"/v1/connect/intentions/exact?source={source}&destination={destination}", null, null, token, MayBeNoOp: absent);
            case 3:
                return new Probe("token delete, unknown id", HttpMethod.Delete, $"/v1/acl/token/{(random.Next(2) == 0 ? new Guid(RandomBytes(random, 16)).ToString() : id)}{query}", null, null, token);
            default:
                var path = Pick(random, IdPaths) + id + query;
                var body = path.Contains("/update/", StringComparison.Ordinal) ? """{"Status":"passing"}"""u8.ToArray() : random.Next(3) == 0 ? RandomBytes(random, 64) : null;
                return new Probe("unknown id", HttpMethod.Put, path, body, "application/json", token);
        }
    }

    private static (string What, byte[] Body) MutatedBody(Random random, Template template)
    {
        var valid = Encoding.UTF8.GetBytes(template.Body);
        switch (random.Next(15))
        {
            case 0:
                var cut = random.Next(1, valid.Length - 1);
                return ($"truncated at {cut}", valid[..cut]);
            case 1:
                return ("empty", random.Next(2) == 0 ? [] : " \r\n\t "u8.ToArray());
            case 2:
                return ("not JSON", random.Next(3) switch
                {
                    0 => Encoding.UTF8.GetBytes("Name=fz&Port=80&" + RandomId(random)),
                    1 => Encoding.UTF8.GetBytes("<service><Name>fz</Name></service>"),
                    _ => [(byte)random.Next(0x80, 0x100), .. RandomBytes(random, random.Next(0, 512))],
                });
            case 3:
                return ("JSON but not an object", Encoding.UTF8.GetBytes(Pick(random, new[] { "null", "true", "0", "-1e999", "\"fz\"", "[]", "[" + template.Body + "]", "[{}]", "123456789012345678901234567890" })));
            case 4 when template.EmptyObjectRefused:
                return ("object without known fields", Encoding.UTF8.GetBytes("{" + string.Join(",", Enumerable.Range(0, random.Next(0, 6)).Select(_ => $"\"zz{RandomId(random)}\":{RandomJson(random, 3)}")) + "}"));
            case 5:
                return ("deep nesting", Encoding.UTF8.GetBytes(random.Next(2) == 0
                    ? new string('[', 5000) + new string(']', 5000)
                    : Set(template.Body, Pick(random, template.Fields).Path, JsonValue.Create("fz-deep")).Replace("\"fz-deep\"", new string('[', 70) + new string(']', 70), StringComparison.Ordinal)));
            case 6:
                // Over Kestrel's 1 MiB limit, in one field: a 413.
                var field = Pick(random, template.Fields);
                return ($"{field.Path} over 1 MiB", Encoding.UTF8.GetBytes(Set(template.Body, field.Path, JsonValue.Create(new string('x', OneMiB + 16)))));
            case 7:
            {
                var required = template.Fields.Where(f => f.Required).ToArray();
                if (required.Length == 0) goto default;
                var f = Pick(random, required);
                return random.Next(2) == 0 ? ($"{f.Path} dropped", Encoding.UTF8.GetBytes(Set(template.Body, f.Path, null, remove: true)))
                    : ($"{f.Path} null", Encoding.UTF8.GetBytes(Set(template.Body, f.Path, null)));
            }

            case 8:
            {
                // A duplicated field whose last copy (the one System.Text.Json keeps) has the wrong type.
                var f = Pick(random, template.Fields.Where(f => !f.Path.Contains('.')).ToArray());
                var wrong = WrongValue(random, f.Kind);
                var text = template.Body[..^1] + $",\"{f.Path}\":{wrong}}}";
                return ($"{f.Path} duplicated as {wrong}", Encoding.UTF8.GetBytes(text));
            }

            case 9:
            case 10:
            {
                var f = Pick(random, template.Fields.Where(f => f.Kind != Kind.Str || f.Required).ToArray());
                var wrong = WrongValue(random, f.Kind);
                return ($"{f.Path} = {wrong}", Encoding.UTF8.GetBytes(Set(template.Body, f.Path, JsonNode.Parse(wrong))));
            }

            case 11:
            {
                // Bytes that are not UTF-8, or raw control characters, inside a string value.
                var bad = Pick(random, new byte[][] { [0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0x00], [0x01], [0x0A], [0xE2, 0x82] });
                var at = Array.IndexOf(valid, (byte)':') + 2; // just inside the first string value
                if (valid[at - 1] != (byte)'"') goto case 0;
                return ($"bytes {Convert.ToHexString(bad)} in a string", [.. valid[..at], .. bad, .. valid[at..]]);
            }

            case 12:
                return ("odd escape", Encoding.UTF8.GetBytes(template.Body.Replace("\":\"", "\":\"\\uD800\\x", StringComparison.Ordinal) is var t && t != template.Body ? t : template.Body + "}"));
            default:
            {
                var f = Pick(random, template.Fields.Where(f => f.Kind is not Kind.Str and not Kind.Obj).ToArray().DefaultIfEmpty(template.Fields[0]).ToArray());
                var wrong = WrongValue(random, f.Kind);
                return ($"{f.Path} = {wrong}", Encoding.UTF8.GetBytes(Set(template.Body, f.Path, JsonNode.Parse(wrong))));
            }
        }
    }

    /// <summary>A value that field kind can never take.</summary>
    private static string WrongValue(Random random, Kind kind) => Pick(random, kind switch
    {
        Kind.Str => new[] { "12", "true", "{}", "[]", "1.5", "-1e400", "[\"fz\"]" },
        Kind.Port => ["\"x\"", "true", "{}", "[]", "1.5", "1e400", "99999999999999999999", "-1", "0", "65536", "-2147483649"],
        Kind.StrArray => ["\"x\"", "1", "{}", "true", "[1]", "[{\"a\":{}}]", "[[[]]]"],
        Kind.StrMap => ["\"x\"", "1", "[]", "true", "{\"k\":1}", "{\"k\":{}}", "{\"k\":[]}"],
        Kind.Obj => ["\"x\"", "1", "[]", "true", "-0"],
        Kind.Duration => ["\"soon\"", "\"10 parsecs\"", "true", "{}", "[]", "\"1e400s\"", "\"9999999999999999999h\""],
        Kind.Bool => ["\"yes\"", "1", "{}", "[]", "\"true\""],
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    });

    private static string Set(string body, string path, JsonNode? value, bool remove = false)
    {
        var root = JsonNode.Parse(body)!.AsObject();
        var parts = path.Split('.');
        var parent = root;
        foreach (var part in parts[..^1]) parent = parent[part]!.AsObject();
        if (remove) parent.Remove(parts[^1]);
        else parent[parts[^1]] = value;
        return root.ToJsonString();
    }

    private static string RandomJson(Random random, int depth) => random.Next(depth <= 0 ? 4 : 7) switch
    {
        0 => random.Next(-1000, 1000).ToString(System.Globalization.CultureInfo.InvariantCulture),
        1 => JsonSerializer.Serialize(RandomId(random)),
        2 => "true",
        3 => "null",
        4 => "[" + string.Join(",", Enumerable.Range(0, random.Next(4)).Select(_ => RandomJson(random, depth - 1))) + "]",
        _ => "{" + string.Join(",", Enumerable.Range(0, random.Next(4)).Select(_ => $"\"{RandomId(random)}\":{RandomJson(random, depth - 1)}")) + "}",
    };

    private static readonly string[] IdPieces = ["a", "Z", "9", "-", "_", "~", "%00", "%FF", "%C3%28", "%2F", "%20", "%25", "é", "漢", "😀", ":", "@", "+"];

    private static string RandomId(Random random)
    {
        var length = random.Next(20) == 0 ? 3000 : random.Next(1, 24);
        var text = new StringBuilder();
        for (var i = 0; i < length; i++) text.Append(Pick(random, IdPieces));
        return text.ToString();
    }

    private static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    private static T Pick<T>(Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];

    private static string Shorten(string text) => text.Length <= 160 ? text : text[..160] + $"...({text.Length} chars)";

    private static string Shorten(byte[]? body) => body is null ? "(none)" : Shorten(Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 400))));

    private static string Csr(string service)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={service}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(SpiffeId.ForService("weft.local", service).ToUri());
        request.CertificateExtensions.Add(san.Build());
        return request.CreateSigningRequestPem();
    }

    /// <summary>A few of everything the write endpoints touch; returns a service token's secret.</summary>
    private static async Task<string> SeedAsync(RunningServer server)
    {
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"seed-web","Name":"web","Port":8080,"Tags":["v1"],"Meta":{"team":"a"},"Check":{"CheckID":"seed-web-ttl","TTL":"1h","Status":"passing"}}""");
        await server.PutOkAsync("/v1/agent/service/register", """{"ID":"seed-api","Name":"api","Port":8081}""");
        await server.PutOkAsync("/v1/agent/check/register", """{"CheckID":"seed-node-ttl","Name":"node ttl","TTL":"1h","Status":"warning"}""");
        await server.PutOkAsync("/v1/catalog/register", """{"Node":"ext","Address":"10.9.9.9","Service":{"ID":"legacy-1","Service":"legacy","Port":9000}}""");
        await server.PutOkAsync("/v1/config", """{"Kind":"service-defaults","Name":"web","Protocol":"http"}""");
        await server.PutOkAsync("/v1/config", """{"Kind":"service-resolver","Name":"api","ConnectTimeout":"5s"}""");
        await server.PutOkAsync("/v1/connect/intentions/exact?source=web&destination=api", """{"Action":"allow"}""");
        await server.PutOkAsync("/v1/connect/intentions/exact?source=api&destination=web", """{"Action":"deny"}""");
        using var created = await server.PutAsync("/v1/acl/token", """{"Description":"seed","ServiceIdentities":[{"ServiceName":"web"}]}""");
        var body = await created.Content.ReadAsStringAsync();
        Assert.True(created.IsSuccessStatusCode, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("SecretID").GetString()!;
    }

    /// <summary>Everything a client can see of what is stored, and the index that would move on any write.</summary>
    private static async Task<string> SnapshotAsync(RunningServer server)
    {
        var paths = new List<string>
        {
            "/v1/agent/services", "/v1/agent/checks", "/v1/catalog/nodes", "/v1/catalog/services", "/v1/catalog/service/legacy",
            "/v1/health/state/any", "/v1/connect/intentions", "/v1/acl/tokens", "/v1/connect/ca/roots", "/v1/connect/ca/configuration",
        };
        paths.AddRange(ConfigKinds.Select(k => "/v1/config/" + k));
        var text = new StringBuilder();
        foreach (var path in paths)
        {
            using var response = await server.Http.GetAsync(path);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"GET {path} gave {(int)response.StatusCode}: {body}");
            if (path == "/v1/acl/tokens")
            {
                // The management token is the server's own, not stored; its CreateTime is the process's start.
                var tokens = JsonNode.Parse(body)!.AsArray();
                tokens.Remove(tokens.Single(t => t!["AccessorID"]!.GetValue<string>() == "00000000-0000-0000-0000-000000000001"));
                Assert.NotEmpty(tokens);
                body = tokens.ToJsonString();
            }

            text.Append(path).Append(' ').Append(response.Headers.TryGetValues("X-Consul-Index", out var index) ? index.Single() : "-").Append('\n').Append(body).Append('\n');
        }

        return text.ToString();
    }

    private static void AssertSame(string before, string after, string when)
    {
        if (before == after) return;
        var a = before.Split('\n');
        var b = after.Split('\n');
        var first = Enumerable.Range(0, Math.Min(a.Length, b.Length)).FirstOrDefault(i => a[i] != b[i]);
        var at = Enumerable.Range(0, Math.Min(a[first].Length, b[first].Length)).FirstOrDefault(i => a[first][i] != b[first][i]);
        var from = Math.Max(0, at - 60);
        Assert.Fail($"stored state changed {when}, line {first} ({a[first - first % 2]}):\nbefore: ...{Shorten(a[first][from..])}\nafter:  ...{Shorten(b[first][from..])}");
    }
}
