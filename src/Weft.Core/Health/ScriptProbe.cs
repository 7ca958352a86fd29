using System.Buffers;
using System.ComponentModel;
using System.Diagnostics;
using Weft.Core.Catalog;

namespace Weft.Core.Health;

/// <summary>
/// Consul's script check (Nagios plugin convention): runs <c>Args[0]</c> with the rest as arguments, no
/// shell; exit 0 is passing, 1 is warning, anything else critical. Output is stdout and stderr together,
/// capped at 4 KiB while reading so a noisy script cannot grow memory.
/// </summary>
internal sealed class ScriptProbe : IHealthProbe
{
    private static readonly TimeSpan DrainGrace = TimeSpan.FromSeconds(1);

    private readonly CheckDefinition _definition;
    private readonly TimeProvider _timeProvider;

    public ScriptProbe(CheckDefinition definition, TimeProvider timeProvider)
    {
        _definition = definition;
        _timeProvider = timeProvider;
    }

    public async ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken)
    {
        if (_definition.Args.IsDefaultOrEmpty)
            return ProbeResult.Critical("script check has no Args to run");

        var startInfo = new ProcessStartInfo(_definition.Args[0])
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in _definition.Args.Skip(1))
            startInfo.ArgumentList.Add(argument);

        using var timeout = new ProbeTimeout(_definition.EffectiveTimeout, _timeProvider, cancellationToken);
        using var process = new Process { StartInfo = startInfo };
        try
        {
            process.Start();
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException)
        {
            return ProbeResult.Critical($"failed to start {_definition.Args[0]}: {e.Message}");
        }

        // A check reads nothing; closing stdin stops one that prompts from waiting forever.
        process.StandardInput.Close();
        var output = new BoundedOutput();
        // The readers stop on their own token, not the timeout's: after a kill they still collect what
        // the script wrote before it died, which is usually why it hung.
        using var stopReading = new CancellationTokenSource();
        var readers = Task.WhenAll(
            DrainAsync(process.StandardOutput.BaseStream, output, stopReading.Token),
            DrainAsync(process.StandardError.BaseStream, output, stopReading.Token));
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            // The pipes close when the last holder exits; a child the script left behind holding them
            // keeps this waiting until the timeout, which then reports it.
            await readers.WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            KillTree(process);
            // Wait for the exit so the scheduler never starts a second copy beside this one, as Consul does.
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            // The killed tree's ends of the pipes are closed now; only a process that left the tree
            // (setsid, a daemon) can keep them open, so reading gets a short grace, not forever.
            try
            {
                await readers.WaitAsync(DrainGrace, _timeProvider).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                await stopReading.CancelAsync().ConfigureAwait(false);
                await readers.ConfigureAwait(false);
            }

            timeout.ThrowIfCallerCancelled();
            var text = output.ToText(reportTruncation: true);
            var message = $"Timed out ({timeout.DurationText}) running check";
            return ProbeResult.Critical(text.Length > 0 ? $"{message}\n\n{text}" : message);
        }

        var captured = output.ToText(reportTruncation: true);
        return process.ExitCode switch
        {
            0 => ProbeResult.Passing(captured),
            1 => ProbeResult.Warning(captured),
            _ => ProbeResult.Critical(captured),
        };
    }

    private static void KillTree(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited between the timeout and the kill; nothing left to stop.
        }
        catch (Exception e) when (e is Win32Exception or AggregateException)
        {
            // A descendant that changed user cannot be signalled; the script itself, ours, still dies.
        }
    }

    /// <summary>Reads a pipe to its end, keeping what fits in <paramref name="output"/> and discarding the rest.</summary>
    private static async Task DrainAsync(Stream stream, BoundedOutput output, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                output.Write(buffer.AsSpan(0, read));
        }
        catch (OperationCanceledException)
        {
            // The probe timed out; what was read so far is the output.
        }
        catch (IOException)
        {
            // The pipe broke as the process was killed; keep what was read.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
