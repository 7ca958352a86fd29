using System.CommandLine;
using Microsoft.Extensions.Logging;
using Weft.Core.Text;
using Weft.Server.Acl;
using Weft.Server.Ca;
using Weft.Server.Hosting;
using Weft.Server.Storage;

namespace Weft.Cli.Commands;

/// <summary><c>weft server</c>: the control plane, closed by a token unless told otherwise.</summary>
internal static class ServerCommand
{
    public static Command Create()
    {
        var dataDir = new Option<string>("--data-dir") { Description = "Where the store and the generated token live", DefaultValueFactory = _ => "./.weft/data" };
        var httpAddr = new Option<string>("--http-addr") { Description = "HOST:PORT of the HTTP API", DefaultValueFactory = _ => "127.0.0.1:8500" };
        var grpcAddr = new Option<string>("--grpc-addr") { Description = "HOST:PORT of the proxy stream (gRPC, HTTP/2 without TLS)", DefaultValueFactory = _ => "127.0.0.1:8502" };
        var nodeName = new Option<string>("--node-name") { Description = "This server's node name (default: the host name)" };
        var datacenter = new Option<string>("--datacenter") { Description = "Datacenter name", DefaultValueFactory = _ => "dc1" };
        var logLevel = new Option<string>("--log-level") { Description = "trace, debug, info, warn or error", DefaultValueFactory = _ => "info" };
        var tokenFile = new Option<string>("--acl-token-file") { Description = "File holding the token clients must send (else $WEFT_ACL_TOKEN, else one is generated in the data dir)" };
        var devOpen = new Option<bool>("--dev-open") { Description = "Run with no token at all (development only)" };
        var scripts = new Option<bool>("--enable-script-checks") { Description = "Allow checks that run commands (Args) on this host" };
        var trustDomain = new Option<string>("--trust-domain") { Description = "SPIFFE trust domain of workload certificates", DefaultValueFactory = _ => "weft.local" };
        var leafTtl = new Option<string>("--leaf-ttl") { Description = "Lifetime of workload certificates (Go duration, at least 10s)", DefaultValueFactory = _ => "24h" };
        var caCert = new Option<string>("--ca-cert") { Description = "PEM file: your CA certificate (root, or intermediate followed by its chain up to the root); with --ca-key" };
        var defaultAllow = new Option<bool>("--default-allow") { Description = "Let calls no intention matches through (default: deny them)" };
        var caKey = new Option<string>("--ca-key") { Description = "PEM file: the private key of --ca-cert" };

        var command = new Command("server", "Run the control plane: registry API, health checks, embedded store");
        foreach (var option in new Option[] { dataDir, httpAddr, grpcAddr, nodeName, datacenter, logLevel, tokenFile, devOpen, scripts, trustDomain, leafTtl, caCert, caKey, defaultAllow })
            command.Options.Add(option);

        command.SetAction(async (parse, ct) =>
        {
            if (!ListenAddress.TryParse(parse.GetValue(httpAddr), out var endpoint, out var error))
                return Fail($"--http-addr: {error}", ExitCodes.BadInput);
            if (!ListenAddress.TryParse(parse.GetValue(grpcAddr), out var grpcEndpoint, out var grpcError))
                return Fail($"--grpc-addr: {grpcError}", ExitCodes.BadInput);
            if (!LogLevels.TryParse(parse.GetValue(logLevel)!, out var level))
                return Fail($"--log-level: \"{parse.GetValue(logLevel)}\" is not one of trace, debug, info, warn, error", ExitCodes.BadInput);

            if (!CaSettings.TryTrustDomain(parse.GetValue(trustDomain), out var domain, out var domainError))
                return Fail($"--trust-domain: {domainError}", ExitCodes.BadInput);
            if (!CaSettings.TryLeafTtl(parse.GetValue(leafTtl), out var ttl, out var ttlError))
                return Fail($"--leaf-ttl: {ttlError}", ExitCodes.BadInput);
            if (parse.GetValue(caCert) is null != parse.GetValue(caKey) is null)
                return Fail("--ca-cert and --ca-key go together: give both or neither", ExitCodes.BadInput);

            var dir = Path.GetFullPath(parse.GetValue(dataDir)!);
            var open = parse.GetValue(devOpen);
            string? token = null;
            var tokenSource = "";
            try
            {
                if (!open)
                    (token, tokenSource) = AclToken.Resolve(parse.GetValue(tokenFile), Environment.GetEnvironmentVariable("WEFT_ACL_TOKEN"), dir);
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
            {
                return Fail(e.Message, ExitCodes.BadInput);
            }

            var options = new ServerOptions
            {
                DataDir = dir,
                HttpEndpoint = endpoint,
                GrpcEndpoint = grpcEndpoint,
                NodeName = parse.GetValue(nodeName) is { Length: > 0 } n ? n : System.Net.Dns.GetHostName(),
                Datacenter = parse.GetValue(datacenter)!,
                AclToken = token,
                DevOpen = open,
                EnableScriptChecks = parse.GetValue(scripts),
                IntentionsDefaultAllow = parse.GetValue(defaultAllow),
                LogLevel = level,
                TrustDomain = domain,
                LeafTtl = ttl,
                CaCertFile = parse.GetValue(caCert),
                CaKeyFile = parse.GetValue(caKey),
            };
            return await RunAsync(options, tokenSource, ct);
        });
        return command;
    }

    private static async Task<int> RunAsync(ServerOptions options, string tokenSource, CancellationToken ct)
    {
        WeftServer server;
        try
        {
            server = await WeftServer.StartAsync(options, ct);
        }
        catch (StoreOpenException e)
        {
            return Fail($"cannot open the store: {e.Message}", 1);
        }
        catch (CaConfigException e)
        {
            return Fail($"certificate authority: {e.Message}", ExitCodes.BadInput);
        }
        catch (IOException e) when (e.InnerException is System.Net.Sockets.SocketException || e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
        {
            return Fail($"cannot listen on {options.HttpEndpoint} or {options.GrpcEndpoint}: {e.Message}", 1);
        }

        await using (server)
        {
            var stdout = Console.Out;
            await stdout.WriteLineAsync($"weft server {Weft.Server.WeftVersion.Current} (node {options.NodeName}, datacenter {options.Datacenter})");
            await stdout.WriteLineAsync($"  HTTP API:    {server.HttpAddress.ToString().TrimEnd('/')}");
            await stdout.WriteLineAsync($"  gRPC stream: {server.GrpcAddress.Authority} (proxies)");
            await stdout.WriteLineAsync($"  data:        {server.Catalog.Location}");
            if (options.DevOpen)
            {
                await stdout.WriteLineAsync("  ACL:         OFF (--dev-open)");
                await Console.Error.WriteLineAsync(
                    "WARNING: weft server is running with --dev-open: no token is required, so anyone who can reach " +
                    $"{server.HttpAddress} can change the catalog. Never run it this way in production.");
            }
            else
            {
                await stdout.WriteLineAsync($"  ACL token:   required on every call but /v1/status/*; {tokenSource}");
            }

            await stdout.WriteLineAsync($"  CA:          trust domain {options.TrustDomain}, leaf TTL {GoDuration.Format(options.LeafTtl)}, active root {server.Catalog.Current.ActiveCaRoot?.Id} ({server.Catalog.Current.ActiveCaRoot?.Source}); key kept in the store");
            await stdout.WriteLineAsync(options.IntentionsDefaultAllow
                ? "  intentions:  default ALLOW (--default-allow): calls no intention matches go through"
                : "  intentions:  default deny: a call needs an intention that allows it (weft intention allow SRC DST)");
            await stdout.WriteLineAsync(options.EnableScriptChecks ? "  script checks: ENABLED (--enable-script-checks)" : "  script checks: disabled");
            await stdout.FlushAsync(ct);
            await server.WaitForShutdownAsync(CancellationToken.None);
            await stdout.WriteLineAsync("weft server: stopped");
        }

        return ExitCodes.Success;
    }

    private static int Fail(string message, int code)
    {
        Console.Error.WriteLine($"weft server: {message}");
        return code;
    }
}
