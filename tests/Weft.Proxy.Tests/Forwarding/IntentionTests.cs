using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Weft.Core.Config;
using Weft.Core.Mesh;
using Weft.Proxy.Hosting;
using Weft.Proxy.Routing;
using Weft.Proxy.Tests.Support;

namespace Weft.Proxy.Tests.Forwarding;

/// <summary>
/// Intentions on the inbound listener, with real sockets. Until mTLS gives callers an identity every caller is of
/// unknown identity, which only <c>*</c> sources match; source-specific decisions are covered on the compiled table.
/// </summary>
public sealed class IntentionTests
{
    private static ServiceIntentionsEntry Intentions(string destination, params SourceIntention[] sources) =>
        new ServiceIntentionsEntry { Kind = ConfigKinds.ServiceIntentions, Name = destination, Sources = [.. sources] }.Normalized();

    private static SourceIntention Source(string name, string action) => new() { Name = name, Action = action };

    private static MeshSnapshot DefaultDeny(params ConfigEntry[] entries) => Mesh.Snapshot(1, [], entries) with { IntentionsDefaultAllow = false };

    /// <summary>The payments app behind its sidecar, on <paramref name="snapshot"/> (none yet if null), and a caller of the sidecar's inbound listener.</summary>
    private static async Task<Payments> PaymentsAsync(MeshSnapshot? snapshot)
    {
        var hits = new StrongBox<int>();
        var app = await Backend.StartAsync(a => a.Run(c =>
        {
            Interlocked.Increment(ref hits.Value);
            return c.Response.WriteAsync("payments app: " + c.Request.Path);
        }));
        var proxy = await Mesh.ProxyAsync("payments", app.Address, defaultAllow: false);
        if (snapshot is not null)
            Assert.True(proxy.ConfigSink.Apply(snapshot).Applied);
        return new Payments(app, proxy, hits);
    }

    private sealed class Payments(Backend app, ProxyHost proxy, StrongBox<int> hits) : IAsyncDisposable
    {
        public ProxyHost Proxy => proxy;

        /// <summary>The requests that reached the app.</summary>
        public int Hits => Volatile.Read(ref hits.Value);

        public HttpClient Client { get; } = Mesh.Client(proxy.InboundAddress);

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await proxy.DisposeAsync();
            await app.DisposeAsync();
        }
    }

    private static async Task<long> DenialsAsync(ProxyHost proxy)
    {
        using var admin = Mesh.Client(proxy.AdminAddress);
        using var stats = JsonDocument.Parse(await admin.GetStringAsync("/stats"));
        return stats.RootElement.GetProperty("IntentionDenials").GetInt64();
    }

    [Fact]
    public async Task DefaultDeny_NoIntention_InboundCallIs403IntentionDenied_NamingSourceAndDestination_AndCounted()
    {
        await using var payments = await PaymentsAsync(DefaultDeny());

        using var response = await payments.Client.GetAsync("/charge");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("intention-denied", Assert.Single(response.Headers.GetValues("x-weft-error")));
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("intention-denied: (unknown caller) -> payments", body);
        Assert.Contains("no intention matches and the default is deny", body);
        Assert.Equal(0, payments.Hits);
        Assert.Equal(1, await DenialsAsync(payments.Proxy));
    }

    [Fact]
    public async Task BeforeAnySnapshot_ASidecarLetsNoOneIn()
    {
        await using var payments = await PaymentsAsync(snapshot: null);

        using var response = await payments.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(0, payments.Hits);
    }

    [Fact]
    public async Task AllowFromAnySource_LetsTheCallThrough()
    {
        await using var payments = await PaymentsAsync(DefaultDeny(Intentions("payments", Source("*", IntentionActions.Allow))));

        using var response = await payments.Client.GetAsync("/charge");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("payments app: /charge", await response.Content.ReadAsStringAsync());
        Assert.Equal(1, payments.Hits);
        Assert.Equal(0, await DenialsAsync(payments.Proxy));
    }

    [Fact]
    public async Task WildcardDestinationDeny_OverridesTheDefaultAllow()
    {
        var snapshot = Mesh.Snapshot(1, [], Intentions("*", Source("*", IntentionActions.Deny)));
        await using var payments = await PaymentsAsync(snapshot);

        using var response = await payments.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("intention * -> payments denies it", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, payments.Hits);
    }

    [Fact]
    public async Task L7Permission_DenyingAPathPrefix_Is403_WhileOtherPathsPass()
    {
        var entry = Intentions("payments", new SourceIntention
        {
            Name = "*",
            Permissions =
            [
                new IntentionPermission { Action = IntentionActions.Deny, Http = new IntentionHttpPermission { PathPrefix = "/admin" } },
                new IntentionPermission { Action = IntentionActions.Allow, Http = new IntentionHttpPermission { PathPrefix = "/" } },
            ],
        });
        await using var payments = await PaymentsAsync(DefaultDeny(entry));

        using var admin = await payments.Client.GetAsync("/admin/users");
        using var charge = await payments.Client.PostAsync("/charge", new StringContent("x"));

        Assert.Equal(HttpStatusCode.Forbidden, admin.StatusCode);
        Assert.Contains("Permissions[0] denies GET /admin/users", await admin.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, charge.StatusCode);
        Assert.Equal(1, payments.Hits);
        Assert.Equal(1, await DenialsAsync(payments.Proxy));
    }

    [Fact]
    public async Task L7Permission_NoPermissionMatching_FallsToTheDefault_AsConsul()
    {
        var entry = Intentions("payments", new SourceIntention
        {
            Name = "*",
            Permissions = [new IntentionPermission { Action = IntentionActions.Allow, Http = new IntentionHttpPermission { Methods = ["GET"] } }],
        });
        foreach (var (defaultAllow, expected) in new[] { (false, HttpStatusCode.Forbidden), (true, HttpStatusCode.OK) })
        {
            await using var payments = await PaymentsAsync(Mesh.Snapshot(1, [], entry) with { IntentionsDefaultAllow = defaultAllow });

            using var get = await payments.Client.GetAsync("/");
            using var delete = await payments.Client.DeleteAsync("/");

            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            Assert.Equal(expected, delete.StatusCode);
        }
    }

    [Fact]
    public async Task Tcp_DefaultDeny_ClosesTheConnectionAtAccept_UntilAnIntentionAllows()
    {
        using var echo = new TcpListener(IPAddress.Loopback, 0);
        echo.Start();
        var proxy = await Mesh.ProxyAsync("redis", (IPEndPoint)echo.LocalEndpoint, defaultAllow: false);
        await using var _p = proxy;
        Assert.True(proxy.ConfigSink.Apply(DefaultDeny(Mesh.Defaults("redis", "tcp"))).Applied);

        using (var denied = new TcpClient())
        {
            await denied.ConnectAsync(proxy.InboundAddress);
            var stream = denied.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            int read;
            try
            {
                read = await stream.ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            }
            catch (IOException)
            {
                read = 0; // reset: closed with our bytes unread
            }

            Assert.Equal(0, read); // closed unanswered
        }

        Assert.False(echo.Pending()); // nothing reached the app
        Assert.Equal(1, await DenialsAsync(proxy));

        Assert.True(proxy.ConfigSink.Apply(DefaultDeny(Mesh.Defaults("redis", "tcp"), Intentions("redis", Source("*", IntentionActions.Allow))) with { Version = 2 }).Applied);
        var serve = Task.Run(async () =>
        {
            using var peer = await echo.AcceptTcpClientAsync();
            var s = peer.GetStream();
            await s.CopyToAsync(s);
            peer.Client.Shutdown(SocketShutdown.Send);
        });
        using var allowed = new TcpClient();
        await allowed.ConnectAsync(proxy.InboundAddress);
        var allowedStream = allowed.GetStream();
        await allowedStream.WriteAsync("PING\r\n"u8.ToArray());
        allowed.Client.Shutdown(SocketShutdown.Send);
        using var received = new MemoryStream();
        await allowedStream.CopyToAsync(received).WaitAsync(TimeSpan.FromSeconds(20));
        await serve.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("PING\r\n", Encoding.ASCII.GetString(received.ToArray()));
    }

    [Fact]
    public void CompiledTable_ExactSourceBeatsWildcard_AndUnknownCallersGetOnlyTheWildcard()
    {
        var snapshot = DefaultDeny(
            Intentions("payments", Source("orders", IntentionActions.Allow), Source("*", IntentionActions.Deny)),
            Intentions("*", Source("billing", IntentionActions.Allow)));
        var table = InboundIntentions.Compile(snapshot, "payments");
        var request = new DefaultHttpContext().Request;
        request.Method = "GET";
        request.Path = "/";

        Assert.Null(table.Deny("orders", request));
        Assert.NotNull(table.Deny(null, request));
        // payments <- * (precedence 8) outranks * <- billing (6).
        Assert.NotNull(table.Deny("billing", request));
        Assert.True(table.AllowsConnection("orders"));
        Assert.False(table.AllowsConnection("billing"));
    }

    [Fact]
    public void Compile_ABadPermissionRegex_RejectsTheSnapshot_SayingWhere()
    {
        var bad = Intentions("payments", new SourceIntention
        {
            Name = "*",
            Permissions = [new IntentionPermission { Action = IntentionActions.Deny, Http = new IntentionHttpPermission { PathRegex = "(unclosed" } }],
        });
        var error = Assert.Throws<ConfigRejectedException>(() => InboundIntentions.Compile(DefaultDeny(bad), "payments"));
        Assert.Contains("service-intentions \"payments\" source \"*\" Permissions[0]", error.Message);
    }
}
