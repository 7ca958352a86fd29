namespace Weft.Bench.Proxy;

/// <summary>
/// The reference for issue 4's mTLS figures: two HAProxy 2.6 instances (each <c>nbthread 1</c>), the first taking the
/// client's HTTP and forwarding over TLS 1.3 with a client certificate, ALPN h2, to the second, which requires that
/// certificate and forwards HTTP/1.1 to the backend: HAProxy standing where weft's two sidecars stand. The CA and
/// both certificates (ECDSA P-256, as weft's) are made with openssl in the work dir, deleted with it.
/// </summary>
internal sealed class HaproxyTlsPairTarget : Target
{
    public const string TargetName = "haproxy 2 hops TLS";
    private readonly List<ChildProcess> _processes = [];

    public override string Name => TargetName;

    public override int Hops => 2;

    public override List<int> ProxyPids() => _processes.Select(p => p.Pid).ToList();

    public static async Task<HaproxyTlsPairTarget> StartAsync(BenchContext ctx, Backend backend)
    {
        var dir = Directory.CreateDirectory(Path.Combine(ctx.WorkDir, "haproxy-tls")).FullName;
        await CertificatesAsync(dir, ctx.WorkDir);
        var front = ChildProcess.FreeLoopbackPort();
        var frontH2 = ChildProcess.FreeLoopbackPort();
        var tls = ChildProcess.FreeLoopbackPort();
        const string defaults = """
            global
                nbthread 1
                maxconn 4096
                ssl-default-bind-options ssl-min-ver TLSv1.3
                ssl-default-server-options ssl-min-ver TLSv1.3
            defaults
                mode http
                option http-keep-alive
                http-reuse always
                timeout connect 5s
                timeout client 60s
                timeout server 60s
            """;
        var clientSide = Path.Combine(dir, "client-side.cfg");
        await File.WriteAllTextAsync(clientSide, $"""
            {defaults}
            frontend h1
                bind 127.0.0.1:{front}
                default_backend mesh
            frontend h2c
                bind 127.0.0.1:{frontH2} proto h2
                default_backend mesh
            backend mesh
                server peer 127.0.0.1:{tls} ssl alpn h2 crt {dir}/client.pem ca-file {dir}/ca.crt verify required verifyhost backend

            """);
        var serverSide = Path.Combine(dir, "server-side.cfg");
        await File.WriteAllTextAsync(serverSide, $"""
            {defaults}
            frontend mtls
                bind 127.0.0.1:{tls} ssl crt {dir}/server.pem ca-file {dir}/ca.crt verify required alpn h2
                default_backend app
            backend app
                server app1 127.0.0.1:{backend.Port}

            """);
        var target = new HaproxyTlsPairTarget { Http1 = new Uri($"http://127.0.0.1:{front}/"), H2c = new Uri($"http://127.0.0.1:{frontH2}/") };
        // -db: foreground, no master: each PID is a whole proxy. The server side first, so the client side's first request finds it.
        var server = ChildProcess.Start("haproxy (TLS server side)", "haproxy", ["-db", "-f", serverSide], ctx.WorkDir, Path.Combine(dir, "server-side.log"));
        target._processes.Add(server);
        await server.WaitUntilAsync(() => Task.FromResult(Nginx.Listening(tls)), TimeSpan.FromSeconds(15), "TLS listener");
        var client = ChildProcess.Start("haproxy (TLS client side)", "haproxy", ["-db", "-f", clientSide], ctx.WorkDir, Path.Combine(dir, "client-side.log"));
        target._processes.Add(client);
        await client.WaitUntilAsync(() => Task.FromResult(Nginx.Listening(front) && Nginx.Listening(frontH2)), TimeSpan.FromSeconds(15), "listeners");
        return target;
    }

    /// <summary>A CA, a server certificate for "backend" and a client certificate, ECDSA P-256; HAProxy wants cert and key in one PEM.</summary>
    private static async Task CertificatesAsync(string dir, string workDir)
    {
        async Task Openssl(params string[] args)
        {
            // Every path absolute: the tool runs in the bench's current directory.
            var result = await Tool.RunAsync("openssl", args, workDir, TimeSpan.FromSeconds(30));
            if (result.ExitCode != 0) throw new InvalidOperationException($"openssl {string.Join(' ', args)}: {result.Output}");
        }

        string In(string name) => Path.Combine(dir, name);
        await Openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", In("ca.key"), "-out", In("ca.crt"),
            "-days", "1", "-subj", "/CN=bench CA");
        foreach (var (name, cn, usage) in new[] { ("server", "backend", "serverAuth"), ("client", "client", "clientAuth") })
        {
            await Openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", In($"{name}.key"), "-out", In($"{name}.csr"),
                "-subj", $"/CN={cn}");
            var ext = Path.Combine(dir, $"{name}.ext");
            await File.WriteAllTextAsync(ext, $"subjectAltName=DNS:{cn}\nextendedKeyUsage={usage}\n");
            await Openssl("x509", "-req", "-in", In($"{name}.csr"), "-CA", In("ca.crt"), "-CAkey", In("ca.key"), "-set_serial", $"{Random.Shared.NextInt64(1, long.MaxValue)}",
                "-days", "1", "-extfile", ext, "-out", In($"{name}.crt"));
            await File.WriteAllTextAsync(Path.Combine(dir, $"{name}.pem"),
                await File.ReadAllTextAsync(Path.Combine(dir, $"{name}.crt")) + await File.ReadAllTextAsync(Path.Combine(dir, $"{name}.key")));
        }
    }

    public override async ValueTask DisposeAsync()
    {
        for (var i = _processes.Count - 1; i >= 0; i--) await _processes[i].DisposeAsync();
    }
}
