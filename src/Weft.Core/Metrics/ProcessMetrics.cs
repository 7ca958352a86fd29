using System.Diagnostics;

namespace Weft.Core.Metrics;

/// <summary>The process and runtime basics every Weft endpoint exports, under the names the Prometheus clients use.</summary>
internal static class ProcessMetrics
{
    public static void Write(PrometheusText text)
    {
        using var process = Process.GetCurrentProcess();
        text.Family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
        text.Sample("process_cpu_seconds_total", process.TotalProcessorTime.TotalSeconds);
        text.Family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        text.Sample("process_resident_memory_bytes", process.WorkingSet64);
        text.Family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
        text.Sample("process_virtual_memory_bytes", process.VirtualMemorySize64);
        text.Family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
        text.Sample("process_start_time_seconds", new DateTimeOffset(process.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0);
        text.Family("process_threads", "gauge", "Number of OS threads in the process.");
        text.Sample("process_threads", process.Threads.Count);
        if (OperatingSystem.IsLinux())
        {
            text.Family("process_open_fds", "gauge", "Number of open file descriptors.");
            text.Sample("process_open_fds", Directory.GetFiles("/proc/self/fd").Length);
        }

        text.Family("dotnet_gc_collections_total", "counter", "Garbage collections since the process started, by generation.");
        for (var g = 0; g <= GC.MaxGeneration; g++)
            text.Sample("dotnet_gc_collections_total", [("generation", g.ToString(System.Globalization.CultureInfo.InvariantCulture))], GC.CollectionCount(g));
        text.Family("dotnet_gc_heap_size_bytes", "gauge", "Bytes currently thought to be allocated on the managed heap.");
        text.Sample("dotnet_gc_heap_size_bytes", GC.GetTotalMemory(false));
        text.Family("dotnet_gc_allocated_bytes_total", "counter", "Bytes allocated on the managed heap since the process started.");
        text.Sample("dotnet_gc_allocated_bytes_total", GC.GetTotalAllocatedBytes());
        text.Family("dotnet_threadpool_threads", "gauge", "Thread pool threads.");
        text.Sample("dotnet_threadpool_threads", ThreadPool.ThreadCount);
        text.Family("dotnet_threadpool_queue_length", "gauge", "Work items queued to the thread pool.");
        text.Sample("dotnet_threadpool_queue_length", ThreadPool.PendingWorkItemCount);
    }
}
