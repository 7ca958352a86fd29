using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using Weft.Proxy.Security;

namespace Weft.Proxy.Tests.Support;

/// <summary><c>openssl s_client</c> as an operator runs it against a listener, and the files it needs.</summary>
internal static class OpensslClient
{
    /// <summary>
    /// Runs <c>openssl s_client</c> and returns what it printed (stdout, then stderr). With <paramref name="input"/>, it is
    /// sent and stdin stays open until the server closes (EOF on stdin would end s_client early); without, stdin closes.
    /// </summary>
    public static async Task<string> RunAsync(string arguments, string? input = null)
    {
        var start = new ProcessStartInfo("openssl", "s_client " + arguments)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        if (input is null)
        {
            process.StandardInput.Close();
        }
        else
        {
            await process.StandardInput.WriteAsync(input);
            await process.StandardInput.FlushAsync();
        }

        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await process.WaitForExitAsync(timeout.Token);
        return await stdout + await stderr;
    }

    /// <summary>
    /// Files only for openssl's sake: a throwaway test key, its certificate and chain, in <paramref name="dir"/> (a temp
    /// dir the test removes); returns the s_client/s_server arguments that name them.
    /// </summary>
    public static async Task<string> CertificateFilesAsync(DirectoryInfo dir, WorkloadCertificate certificate, string name)
    {
        var cert = Path.Combine(dir.FullName, name + ".pem");
        var chain = Path.Combine(dir.FullName, name + ".chain.pem");
        var key = Path.Combine(dir.FullName, name + ".key");
        await File.WriteAllTextAsync(cert, certificate.Leaf.ExportCertificatePem() + "\n");
        await File.WriteAllTextAsync(chain, string.Concat(certificate.Intermediates.Select(c => c.ExportCertificatePem() + "\n")));
        await File.WriteAllTextAsync(key, certificate.Leaf.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        return $"-cert {cert} -cert_chain {chain} -key {key}";
    }
}
